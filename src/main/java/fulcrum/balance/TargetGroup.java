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
import java.time.Instant;
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
        this.snapshot = snapshotOf(targets);
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
                        t.joined(true);
                        startSlowStartIfJoining(t, all);
                        all.add(t);
                        changed = true;
                        log.info("target group {}: target {} ({}) appeared in DNS", name, t, a.host());
                        appeared.add(t);
                    }
                }
            }
            if (changed) {
                publish(snapshotOf(all));
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
            if (to == HealthState.HEALTHY && (from == HealthState.UNHEALTHY || target.joined())) {
                startSlowStart(target, snapshot.all());
            } else if (to != HealthState.HEALTHY) {
                target.slowStartSince(0);
            }
            publish(snapshotOf(snapshot.all()));
        }
        log.info("target group {}: target {} {} -> {} ({})", name, target, from.label(), to.label(), reason);
        for (Listener l : listeners) {
            l.stateChanged(this, target, from, to, reason);
        }
    }

    /** An ejection outlier detection made: for the log, metrics and access log. */
    public record Ejection(Target target, java.time.Duration duration, String reason) {
    }

    /**
     * What live traffic got from {@code target}: its status, or Fulcrum's own 502/504 when it
     * could not connect, was reset or stayed silent ({@code gatewayFailure}). An answer from an
     * unhealthy target is a passed check for {@link Snapshot#keeps}: failing open placed sessions
     * there, and they must survive another target turning healthy first. Counts towards outlier
     * detection; returns the ejection it caused, or null.
     */
    public Ejection answered(Target target, int status, boolean gatewayFailure) {
        boolean gateway = gatewayFailure || status == 502 || status == 503 || status == 504;
        if (!gateway && !target.lastCheckPassed() && target.state() == HealthState.UNHEALTHY) {
            checked(target, true);
        }
        fulcrum.config.OutlierDetectionSettings od = settings.outlierDetection();
        if (!od.enabled()) {
            return null;
        }
        String reason = null;
        if (status >= 500 || gateway) {
            int n = target.consecutive5xx.incrementAndGet();
            if (od.consecutive5xx() > 0 && n >= od.consecutive5xx()) {
                reason = n + " consecutive 5xx";
            }
        } else if (target.consecutive5xx.get() != 0) {
            target.consecutive5xx.set(0);
        }
        if (gateway) {
            int n = target.consecutiveGatewayFailures.incrementAndGet();
            if (od.consecutiveGatewayFailure() > 0 && n >= od.consecutiveGatewayFailure()) {
                reason = n + " consecutive gateway failures";
            }
        } else if (target.consecutiveGatewayFailures.get() != 0) {
            target.consecutiveGatewayFailures.set(0);
        }
        return reason == null ? null : eject(target, reason, od);
    }

    private Ejection eject(Target target, String reason, fulcrum.config.OutlierDetectionSettings od) {
        java.time.Duration duration;
        synchronized (this) {
            long now = System.nanoTime();
            Snapshot snap = snapshot;
            if (target.ejected(now) || !snap.isRoutable(target)) {
                return null; // out already; an unhealthy or draining target is not ejected too
            }
            int live = 0;
            int ejected = 0;
            for (Target t : snap.all()) {
                if (t.state() != HealthState.DRAINING) {
                    live++;
                    if (t.ejected(now)) {
                        ejected++;
                    }
                }
            }
            if ((ejected + 1) * 100 > od.maxEjectionPercent() * live) {
                log.debug("target group {}: target {} not ejected ({}): {} of {} ejected already, max-ejection-percent {}",
                          name, target, reason, ejected, live, od.maxEjectionPercent());
                return null;
            }
            long base = od.baseEjectionTime().toNanos();
            if (target.ejectedUntil() != 0) {
                // One level off for each base time it has stayed in since it came back.
                long in = (now - target.ejectedUntil()) / base;
                target.ejectionLevel = (int) Math.max(0, target.ejectionLevel - Math.min(in, Integer.MAX_VALUE));
            }
            target.ejectionLevel++;
            long nanos = Math.min(base * target.ejectionLevel, od.maxEjectionTime().toNanos());
            duration = java.time.Duration.ofNanos(nanos);
            target.consecutive5xx.set(0);
            target.consecutiveGatewayFailures.set(0);
            target.ejectedUntil(now + nanos == 0 ? 1 : now + nanos);
            publish(snapshotOf(snap.all()));
        }
        log.info("target group {}: target {} ejected for {} ms ({})", name, target, duration.toMillis(), reason);
        return new Ejection(target, duration, reason);
    }

    /**
     * A health check of {@code target} (a probe, or a request that could not reach it) ended: kept
     * with its reason for the admin API, and counted as {@link #checked(Target, boolean)}.
     */
    public void checked(Target target, boolean passed, String reason) {
        target.lastCheck(new Target.Check(passed, reason, Instant.now()));
        checked(target, passed);
    }

    /**
     * The latest check of {@code target} (a probe, or live traffic) passed or failed. An unhealthy
     * target whose latest check passed keeps its sessions ({@link Snapshot#keeps}), so a change
     * of it is published.
     */
    public void checked(Target target, boolean passed) {
        if (target.lastCheckPassed() == passed) {
            return;
        }
        synchronized (this) {
            if (target.lastCheckPassed() == passed || !snapshot.all().contains(target)) {
                return;
            }
            target.lastCheckPassed(passed);
            if (target.state() == HealthState.UNHEALTHY) {
                publish(snapshotOf(snapshot.all()));
            }
        }
    }

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
        for (Target t : added) {
            t.joined(true);
            startSlowStartIfJoining(t, all);
        }
        all.addAll(added);
        publish(snapshotOf(all));
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
        publish(snapshotOf(all));
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
            publish(snapshotOf(snapshot.all()));
        }
        log.info("target group {}: target {} {} -> draining ({})", name, target, from.label(), reason);
        for (Listener l : listeners) {
            l.stateChanged(this, target, from, HealthState.DRAINING, reason);
        }
    }

    public void updateSettings(TargetGroupSettings next) {
        synchronized (this) {
            this.settings = requireNonNull(next, "settings");
            publish(snapshotOf(snapshot.all()));
        }
    }

    private Snapshot snapshotOf(List<Target> targets) {
        return new Snapshot(targets, settings.slowStart().toNanos());
    }

    /** A target added with health checks off takes traffic at once: its slow start begins now. */
    private void startSlowStartIfJoining(Target t, List<Target> others) {
        if (t.state() == HealthState.UNUSED) {
            startSlowStart(t, others);
        }
    }

    /**
     * As on ALB: a target that joins or turns healthy again starts slow, unless no other target is
     * healthy and past its own slow start (then it is all the group has, and a ramp would only
     * hold traffic back from it). Targets there when the group was made start at full share.
     */
    private void startSlowStart(Target t, List<Target> all) {
        if (settings.slowStart().isZero()) {
            return;
        }
        long now = System.nanoTime();
        long window = settings.slowStart().toNanos();
        for (Target o : all) {
            boolean serving = o.state() == HealthState.HEALTHY || o.state() == HealthState.UNUSED;
            boolean warm = o.slowStartSince() == 0 || now - o.slowStartSince() >= window;
            if (o != t && serving && warm) {
                t.slowStartSince(now == 0 ? 1 : now);
                log.info("target group {}: target {} slow start over {}", name, t, settings.slowStart());
                return;
            }
        }
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
