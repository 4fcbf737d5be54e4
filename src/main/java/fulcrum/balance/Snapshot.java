package fulcrum.balance;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable view of a group's membership and health, swapped whole on every change so that
 * selection reads it without locks.
 *
 * <p>Routable targets: the healthy ones (or all, when health checks are off); when none is
 * healthy, the {@code initial} ones, so a balancer that has just started serves while its first
 * checks run; when there is neither, every target that is not draining (fail open, as ALB does:
 * a guess beats a certain 503).
 *
 * <p>Sessions (a sticky cookie, an Engine.IO sid) are not new requests: a session's request can
 * only be served by its own target, anywhere else it meets "Session ID unknown". So a target
 * {@linkplain #keeps keeps} its sessions on wider terms than it takes new ones: while it is
 * healthy or initial, while no target of the group is healthy (initial only, or failing open:
 * none is proven better), and while it is unhealthy but its latest check passed (on its way
 * back; an answer to live traffic counts, so sessions placed while failing open stay). The tiers of new requests change as the first checks come in one target at a time;
 * what keeps a session must not, or a balancer started before its targets breaks the sessions it
 * placed itself.
 */
public final class Snapshot {
    private final List<Target> all;
    private final Target[] routable;
    /** Routable targets repeated by weight and interleaved, for weighted round-robin. */
    private final Target[] ring;
    /** Routable targets that take new requests: weight above 0 (all of them when every weight is 0). */
    private final Target[] weighted;
    private final Map<String, Target> byId;
    private final Map<Long, Target> byCookieToken;
    /** Targets whose sessions stay on them: see {@link #keeps}. */
    private final Target[] keeping;
    /** Targets in slow start and when each began it (System.nanoTime()). */
    private final Target[] warming;
    private final long[] warmingSince;
    private final long slowStartNanos;
    /** Targets outlier detection ejected and when each ejection ends (System.nanoTime()). */
    private final Target[] ejected;
    private final long[] ejectedUntil;
    private final boolean failOpen;

    Snapshot(List<Target> all) {
        this(all, 0);
    }

    /** {@code slowStartNanos}: the group's slow start window, 0 when off. */
    Snapshot(List<Target> all, long slowStartNanos) {
        this.all = List.copyOf(all);
        this.slowStartNanos = slowStartNanos;
        List<Target> healthy = new ArrayList<>();
        List<Target> initial = new ArrayList<>();
        List<Target> live = new ArrayList<>();
        Map<String, Target> ids = new HashMap<>();
        Map<Long, Target> tokens = new HashMap<>();
        for (Target t : all) {
            ids.put(t.id(), t);
            tokens.put(t.cookieToken(), t);
            switch (t.state()) {
                case HEALTHY, UNUSED -> healthy.add(t);
                case INITIAL -> initial.add(t);
                default -> { }
            }
            if (t.state() != HealthState.DRAINING) {
                live.add(t);
            }
        }
        List<Target> chosen = !healthy.isEmpty() ? healthy : !initial.isEmpty() ? initial : live;
        this.failOpen = healthy.isEmpty() && initial.isEmpty() && !live.isEmpty();
        this.routable = chosen.toArray(new Target[0]);
        this.weighted = chosen.stream().anyMatch(t -> t.weight() > 0)
                        ? chosen.stream().filter(t -> t.weight() > 0).toArray(Target[]::new)
                        : chosen.toArray(new Target[0]);
        this.ring = weightedRing(weighted);
        this.byId = Collections.unmodifiableMap(ids);
        this.byCookieToken = tokens;
        this.keeping = keeping(all, !healthy.isEmpty());
        List<Target> warm = new ArrayList<>();
        for (Target t : routable) {
            if (slowStartNanos > 0 && t.slowStartSince() != 0) {
                warm.add(t);
            }
        }
        this.warming = warm.toArray(new Target[0]);
        this.warmingSince = new long[warming.length];
        for (int i = 0; i < warming.length; i++) {
            warmingSince[i] = warming[i].slowStartSince();
        }
        long now = System.nanoTime();
        List<Target> out = new ArrayList<>();
        for (Target t : all) {
            if (t.ejected(now)) {
                out.add(t);
            }
        }
        this.ejected = out.toArray(new Target[0]);
        this.ejectedUntil = new long[ejected.length];
        for (int i = 0; i < ejected.length; i++) {
            ejectedUntil[i] = ejected[i].ejectedUntil();
        }
    }

    /** Whether some target was ejected when this snapshot was made: selectors then ask {@link #ejected}. */
    boolean anyEjected() {
        return ejected.length > 0;
    }

    /**
     * Whether outlier detection keeps {@code t} out of rotation at {@code nowNanos}. An ejection
     * ends by time alone, so no new snapshot is needed for the target to come back.
     */
    boolean ejected(Target t, long nowNanos) {
        for (int i = 0; i < ejected.length; i++) {
            if (ejected[i] == t) {
                return nowNanos - ejectedUntil[i] < 0;
            }
        }
        return false;
    }

    /** Whether some routable target is in slow start: selectors then weigh {@link #share}. */
    boolean warming() {
        return warming.length > 0;
    }

    /**
     * The part of its full share of new requests and sessions {@code t} takes now: rising linearly
     * from 0 to 1 over the slow start window after it turned healthy, 1 for every other target.
     */
    double share(Target t, long nowNanos) {
        for (int i = 0; i < warming.length; i++) {
            if (warming[i] == t) {
                long elapsed = nowNanos - warmingSince[i];
                return elapsed >= slowStartNanos ? 1.0 : Math.max(0.0, elapsed / (double) slowStartNanos);
            }
        }
        return 1.0;
    }

    private static Target[] keeping(List<Target> all, boolean anyHealthy) {
        List<Target> keep = new ArrayList<>();
        for (Target t : all) {
            boolean keeps = switch (t.state()) {
                case HEALTHY, UNUSED, INITIAL -> true;
                case UNHEALTHY -> !anyHealthy || t.lastCheckPassed();
                case DRAINING -> false;
            };
            if (keeps) {
                keep.add(t);
            }
        }
        return keep.toArray(new Target[0]);
    }

    private static Target[] weightedRing(Target[] targets) {
        int max = 0;
        for (Target t : targets) {
            max = Math.max(max, t.weight());
        }
        if (max == 0) {
            return targets.clone(); // every weight 0: spread evenly rather than refuse
        }
        List<Target> ring = new ArrayList<>();
        // Round r takes every target whose weight exceeds r, so heavy targets are spread out.
        for (int r = 0; r < max; r++) {
            for (Target t : targets) {
                if (t.weight() > r) {
                    ring.add(t);
                }
            }
        }
        return ring.toArray(new Target[0]);
    }

    public List<Target> all() {
        return all;
    }

    public int routableCount() {
        return routable.length;
    }

    Target[] weightedArray() {
        return weighted;
    }

    Target[] ring() {
        return ring;
    }

    public boolean isRoutable(Target t) {
        for (Target r : routable) {
            if (r == t) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a session bound to {@code t} (by cookie or Engine.IO sid) continues there. Wider
     * than {@link #isRoutable}: see the class comment.
     */
    public boolean keeps(Target t) {
        if (anyEjected() && ejected(t, System.nanoTime())) {
            return false; // found failing by live traffic: its sessions move
        }
        for (Target k : keeping) {
            if (k == t) {
                return true;
            }
        }
        return false;
    }

    /** True when no target is healthy or initial and traffic goes to unhealthy ones. */
    public boolean failOpen() {
        return failOpen;
    }

    public Target byId(String id) {
        return byId.get(id);
    }

    Target byCookieToken(long token) {
        return byCookieToken.get(token);
    }
}
