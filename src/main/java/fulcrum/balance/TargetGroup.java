package fulcrum.balance;

import fulcrum.config.HostPort;
import fulcrum.config.TargetGroupSettings;
import fulcrum.config.TargetSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.util.NetUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.util.Objects.requireNonNull;

/**
 * A named set of targets. Membership and health live in an immutable {@link Snapshot} replaced
 * through one volatile field; writers (health checks, the admin API, reloads) serialise on this
 * object, readers on the request path never lock.
 */
public final class TargetGroup {
    private static final Logger log = LoggerFactory.getLogger(TargetGroup.class);

    private final String name;
    private volatile TargetGroupSettings settings;
    private final Selector selector;
    private final LbCookie cookie;
    private final EngineIoSessions engineIo;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private volatile Snapshot snapshot;
    private boolean failOpenLogged;

    private volatile PassiveHealth passiveHealth = (target, reason) -> { };

    /** Told when live traffic finds a target failing, between two health checks. */
    public interface PassiveHealth {
        void failed(Target target, String reason);
    }

    /** Told of every state change, after the new snapshot is in place. */
    public interface Listener {
        void stateChanged(TargetGroup group, Target target, HealthState from, HealthState to, String reason);

        /** A target joined ({@code added}) or left the group, after the new snapshot is in place. */
        default void membershipChanged(TargetGroup group, Target target, boolean added, String reason) {
        }
    }

    public TargetGroup(TargetGroupSettings settings, byte[] cookieSecret) {
        this.settings = requireNonNull(settings, "settings");
        this.name = settings.name();
        this.selector = Selector.of(settings.algorithm());
        this.cookie = new LbCookie(settings.stickiness(), cookieSecret);
        this.engineIo = new EngineIoSessions(settings.stickiness().maxSessions());
        List<Target> targets = new ArrayList<>();
        for (TargetSpec spec : settings.targets()) {
            targets.addAll(newTargets(spec));
        }
        this.snapshot = new Snapshot(targets);
    }

    /**
     * The targets a configured address stands for: itself for an IP literal, one per address for
     * a host name (so Docker's and Kubernetes' DNS service discovery work; see {@link #refreshDns}).
     */
    private List<Target> newTargets(TargetSpec spec) {
        HostPort a = spec.address();
        HealthState initial = settings.healthCheck().enabled() ? HealthState.INITIAL : HealthState.UNUSED;
        if (NetUtil.isValidIpV4Address(a.host()) || NetUtil.isValidIpV6Address(a.host())) {
            InetSocketAddress sa = new InetSocketAddress(NetUtil.createInetAddressFromIpAddressString(a.host()), a.port());
            return List.of(new Target(a.toString(), a, sa, spec.weight(), initial, cookie.tokenFor(a.toString())));
        }
        List<Target> out = new ArrayList<>();
        for (InetAddress ip : resolveAll(a.host())) {
            InetSocketAddress sa = new InetSocketAddress(ip, a.port());
            String id = new HostPort(NetUtil.toAddressString(ip), a.port()).toString();
            out.add(new Target(id, a, sa, spec.weight(), initial, cookie.tokenFor(id)));
        }
        if (out.isEmpty()) {
            // Kept unresolved: connecting fails and health checks mark it, rather than refusing to start.
            out.add(new Target(a.toString(), a, InetSocketAddress.createUnresolved(a.host(), a.port()), spec.weight(),
                               initial, cookie.tokenFor(a.toString())));
        }
        return out;
    }

    private List<InetAddress> resolveAll(String host) {
        try {
            List<InetAddress> all = new ArrayList<>(List.of(InetAddress.getAllByName(host)));
            all.sort(java.util.Comparator.comparing(InetAddress::getHostAddress));
            return all;
        } catch (UnknownHostException e) {
            log.warn("target group {}: {} cannot be resolved now: {}", name, host, e.getMessage());
            return List.of();
        }
    }

    /**
     * Follows the DNS records of targets configured by host name: addresses that appeared become
     * targets (initial), targets whose address disappeared are handed to {@code vanished} (which
     * drains them). A failed lookup changes nothing.
     */
    public void refreshDns(java.util.function.Consumer<Target> vanished) {
        List<Target> gone = new ArrayList<>();
        List<Target> appeared = new ArrayList<>();
        synchronized (this) {
            List<Target> all = new ArrayList<>(snapshot.all());
            boolean changed = false;
            for (TargetSpec spec : settings.targets()) {
                HostPort a = spec.address();
                if (NetUtil.isValidIpV4Address(a.host()) || NetUtil.isValidIpV6Address(a.host())) {
                    continue;
                }
                List<InetAddress> ips = resolveAll(a.host());
                if (ips.isEmpty()) {
                    continue;
                }
                java.util.Set<String> now = new java.util.HashSet<>();
                for (InetAddress ip : ips) {
                    now.add(new HostPort(NetUtil.toAddressString(ip), a.port()).toString());
                }
                for (Target t : all) {
                    if (t.address().equals(a) && !now.contains(t.id()) && t.state() != HealthState.DRAINING) {
                        gone.add(t);
                    }
                }
                for (Target t : newTargets(spec)) {
                    if (snapshot.byId(t.id()) == null) {
                        all.add(t);
                        changed = true;
                        log.info("target group {}: target {} ({}) appeared in DNS", name, t, a.host());
                        appeared.add(t);
                    }
                }
            }
            if (changed) {
                publish(new Snapshot(all));
            }
        }
        appeared.forEach(t -> membership(t, true, "appeared in DNS"));
        gone.forEach(vanished);
    }

    /** Whether any target is configured by host name (and so needs {@link #refreshDns}). */
    public boolean hasNamedTargets() {
        for (TargetSpec spec : settings.targets()) {
            String h = spec.address().host();
            if (!NetUtil.isValidIpV4Address(h) && !NetUtil.isValidIpV6Address(h)) {
                return true;
            }
        }
        return false;
    }

    public String name() {
        return name;
    }

    public TargetGroupSettings settings() {
        return settings;
    }

    public Snapshot snapshot() {
        return snapshot;
    }

    public Selector selector() {
        return selector;
    }

    public LbCookie cookie() {
        return cookie;
    }

    public void passiveHealth(PassiveHealth p) {
        this.passiveHealth = requireNonNull(p, "passiveHealth");
    }

    /** A request could not reach {@code target}; counts towards its health at once. */
    public void passiveFailure(Target target, String reason) {
        passiveHealth.failed(target, reason);
    }

    /** The Engine.IO sessions learnt in this group (empty unless engine-io stickiness is on). */
    public EngineIoSessions engineIo() {
        return engineIo;
    }

    public void addListener(Listener l) {
        listeners.add(requireNonNull(l, "listener"));
    }

    /** Moves {@code target} to {@code to}; logs and notifies once per actual change. */
    public void transition(Target target, HealthState to, String reason) {
        HealthState from;
        synchronized (this) {
            from = target.state();
            if (from == to || !snapshot.all().contains(target)) {
                return;
            }
            if (from == HealthState.DRAINING) {
                return; // a draining target only leaves by being removed
            }
            target.state(to, reason);
            publish(new Snapshot(snapshot.all()));
        }
        log.info("target group {}: target {} {} -> {} ({})", name, target, from.label(), to.label(), reason);
        for (Listener l : listeners) {
            l.stateChanged(this, target, from, to, reason);
        }
    }

    /** Adds a target at runtime; it starts initial (or unused without health checks). */
    /**
     * Adds a target at runtime; it starts initial (or unused without health checks). A host name
     * adds one target per address; the first is returned.
     */
    public synchronized Target register(TargetSpec spec) {
        List<Target> added = newTargets(spec);
        for (Target t : added) {
            if (snapshot.byId(t.id()) != null) {
                throw new IllegalArgumentException("target " + t.id() + " is already registered in " + name);
            }
        }
        List<Target> all = new ArrayList<>(snapshot.all());
        all.addAll(added);
        publish(new Snapshot(all));
        for (Target t : added) {
            log.info("target group {}: target {} registered ({})", name, t, t.state().label());
            membership(t, true, "registered");
        }
        return added.get(0);
    }

    /** Removes a target from the group at once (after draining, or when it was never used). */
    public synchronized boolean remove(Target target) {
        List<Target> all = new ArrayList<>(snapshot.all());
        if (!all.remove(target)) {
            return false;
        }
        publish(new Snapshot(all));
        log.info("target group {}: target {} removed", name, target);
        membership(target, false, target.reason());
        return true;
    }

    private void membership(Target target, boolean added, String reason) {
        for (Listener l : listeners) {
            l.membershipChanged(this, target, added, reason);
        }
    }

    /** Starts draining a target: it gets no new requests or sessions. */
    public void drain(Target target, String reason) {
        HealthState from;
        synchronized (this) {
            from = target.state();
            if (from == HealthState.DRAINING || !snapshot.all().contains(target)) {
                return;
            }
            target.state(HealthState.DRAINING, reason);
            publish(new Snapshot(snapshot.all()));
        }
        log.info("target group {}: target {} {} -> draining ({})", name, target, from.label(), reason);
        for (Listener l : listeners) {
            l.stateChanged(this, target, from, HealthState.DRAINING, reason);
        }
    }

    public void updateSettings(TargetGroupSettings next) {
        this.settings = requireNonNull(next, "settings");
    }

    private void publish(Snapshot next) {
        snapshot = next;
        if (next.failOpen() && !failOpenLogged) {
            log.error("target group {}: no healthy target; failing open to all {} targets", name,
                      next.routableCount());
        } else if (!next.failOpen() && failOpenLogged) {
            log.warn("target group {}: healthy targets again, fail-open over", name);
        }
        failOpenLogged = next.failOpen();
        if (next.routableCount() == 0) {
            log.error("target group {}: no target can take traffic", name);
        }
    }
}
