package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.config.TargetSpec;
import fulcrum.proxy.ListenerContext;
import fulcrum.routing.RuleRouter;
import fulcrum.server.Balancer;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Applies a new, already validated configuration to a running balancer without closing a
 * connection: target groups added and removed, targets added (initial) and removed (draining),
 * group settings swapped, listener routers rebuilt. What cannot change at runtime is reported
 * as needing a restart and left as it runs.
 */
final class Reloader {
    private final Balancer balancer;
    private final Drainer drainer;
    private final Overlay overlay;

    /** The targets a group is to have: the file's, changed by the admin API's overlay (fulcrum.cluster). */
    interface Overlay {
        Overlay NONE = (group, file) -> file;

        List<TargetSpec> targets(String group, List<TargetSpec> file);
    }

    Reloader(Balancer balancer, Drainer drainer) {
        this(balancer, drainer, Overlay.NONE);
    }

    Reloader(Balancer balancer, Drainer drainer, Overlay overlay) {
        this.balancer = balancer;
        this.drainer = drainer;
        this.overlay = overlay;
    }

    /** What a reload did: the changes applied and those that wait for a restart. */
    record Outcome(List<String> applied, List<String> needRestart) {
    }

    Outcome apply(FulcrumSettings running, FulcrumSettings next) {
        List<String> applied = new ArrayList<>();
        List<String> restart = new ArrayList<>();
        process(running, next, restart);
        // Groups first, so that new routers can name new groups; old groups go after the routers.
        for (TargetGroupSettings gs : next.targetGroups().values()) {
            TargetGroup g = balancer.targetGroups().get(gs.name());
            if (g == null) {
                balancer.addGroup(gs);
                applied.add("target group " + gs.name() + " added with " + gs.targets().size() + " targets");
            } else {
                group(g, gs, applied, restart);
            }
        }
        routers(running, next, applied, restart);
        for (String name : running.targetGroups().keySet()) {
            if (!next.targetGroups().containsKey(name)) {
                TargetGroup g = balancer.removeGroup(name);
                if (g != null) {
                    for (Target t : g.snapshot().all()) {
                        drainer.drain(g, t, "target group removed by reload");
                    }
                    applied.add("target group " + name + " removed; its " + g.snapshot().all().size()
                                + " targets drain");
                }
            }
        }
        return new Outcome(applied, restart);
    }

    private static void process(FulcrumSettings running, FulcrumSettings next, List<String> restart) {
        if (running.ioThreads() != next.ioThreads()
            || running.transport() != next.transport()) {
            restart.add("io-threads / transport");
        }
        if (!running.admin().equals(next.admin())) {
            restart.add("admin");
        }
        if (!running.accessLog().equals(next.accessLog())) {
            restart.add("access-log");
        }
        if (!running.reload().equals(next.reload())) {
            restart.add("reload");
        }
    }

    private void group(TargetGroup g, TargetGroupSettings next, List<String> applied, List<String> restart) {
        TargetGroupSettings cur = g.settings();
        String name = "target group " + g.name();
        if (cur.algorithm() != next.algorithm() || !cur.stickiness().equals(next.stickiness())
            || cur.healthCheck().enabled() != next.healthCheck().enabled()) {
            restart.add(name + ": algorithm, stickiness or health-check.enabled");
        } else {
            List<String> changed = changedComponents(cur, next, "targets");
            if (!changed.isEmpty()) {
                g.updateSettings(next);
                applied.add(name + ": " + String.join(", ", changed) + " changed");
            }
        }
        List<TargetSpec> targets = overlay.targets(g.name(), next.targets());
        Map<String, TargetSpec> wanted = new HashMap<>();
        for (TargetSpec spec : targets) {
            wanted.put(spec.address().toString(), spec);
        }
        for (Target t : g.snapshot().all()) {
            TargetSpec spec = wanted.remove(t.id());
            if (spec == null) {
                if (drainer.drain(g, t, "removed by reload")) {
                    applied.add(name + ": target " + t + " removed (draining)");
                }
            } else if (t.state() == HealthState.DRAINING) {
                restart.add(name + ": target " + t + " is still draining; reload again once it is removed");
            } else if (spec.weight() != t.weight()) {
                restart.add(name + ": target " + t + " weight " + t.weight() + " -> " + spec.weight()
                            + " (or deregister and register it)");
            }
        }
        for (TargetSpec spec : targets) {
            if (wanted.containsKey(spec.address().toString())) {
                Target t = g.register(spec);
                applied.add(name + ": target " + t + " added (" + t.state().label() + ")");
            }
        }
    }

    private void routers(FulcrumSettings running, FulcrumSettings next, List<String> applied, List<String> restart) {
        Map<String, ListenerSettings> nextByName = new HashMap<>();
        next.listeners().forEach(l -> nextByName.put(l.name(), l));
        Map<String, ListenerSettings> runningByName = new HashMap<>();
        running.listeners().forEach(l -> runningByName.put(l.name(), l));
        for (ListenerSettings l : next.listeners()) {
            if (!runningByName.containsKey(l.name())) {
                restart.add("listener " + l.name() + " added");
            }
        }
        for (ListenerContext ctx : balancer.listenerContexts()) {
            String name = ctx.settings().name();
            ListenerSettings was = runningByName.get(name);
            ListenerSettings now = nextByName.get(name);
            if (now == null) {
                restart.add("listener " + name + " removed");
                continue;
            }
            List<String> other = changedComponents(was, now, "rules", "defaultAction", "defaultTargetGroup");
            if (!other.isEmpty()) {
                restart.add("listener " + name + ": " + String.join(", ", other));
            }
            if (!Objects.equals(was.rules(), now.rules()) || !Objects.equals(was.defaultAction(), now.defaultAction())) {
                RuleRouter router = RuleRouter.of(now, balancer.targetGroups());
                ctx.router(router);
                applied.add("listener " + name + ": rules now " + String.join("; ", router.describe()));
            }
        }
    }

    /** The names of the record components that differ, in the settings' own spelling. */
    static List<String> changedComponents(Record a, Record b, String... ignored) {
        List<String> out = new ArrayList<>();
        outer:
        for (RecordComponent c : a.getClass().getRecordComponents()) {
            for (String i : ignored) {
                if (i.equals(c.getName())) {
                    continue outer;
                }
            }
            try {
                if (!Objects.equals(c.getAccessor().invoke(a), c.getAccessor().invoke(b))) {
                    out.add(c.getName().replaceAll("([A-Z])", "-$1").toLowerCase(java.util.Locale.ROOT));
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return out;
    }
}
