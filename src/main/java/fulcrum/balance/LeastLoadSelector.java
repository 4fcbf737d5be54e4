package fulcrum.balance;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToIntFunction;

/**
 * The routable target with the least load relative to its weight; ties go round the group so
 * that an idle group still spreads evenly. The load is either the requests in flight
 * (least-outstanding-requests) or, for long-lived sessions, HAProxy's leastconn: open WebSocket
 * tunnels, Engine.IO sessions and requests in flight (least-connections), so a target added after
 * a scale-out takes the new sessions until it holds its share instead of staying idle while the
 * old ones keep everybody.
 */
final class LeastLoadSelector implements Selector {
    private final ToIntFunction<Target> load;
    private final AtomicInteger sessions = new AtomicInteger();
    private final AtomicInteger others = new AtomicInteger();

    private LeastLoadSelector(ToIntFunction<Target> load) {
        this.load = load;
    }

    static Selector outstandingRequests() {
        return new LeastLoadSelector(Target::outstandingRequests);
    }

    static Selector connections() {
        return new LeastLoadSelector(Target::connectionLoad);
    }

    @Override
    public Target select(Snapshot snapshot, java.util.List<Target> tried, boolean newSession) {
        Target[] targets = snapshot.weightedArray();
        int n = targets.length;
        if (n == 0) {
            return null;
        }
        int start = (newSession ? sessions : others).getAndIncrement() & Integer.MAX_VALUE;
        boolean warming = snapshot.warming();
        boolean ejections = snapshot.anyEjected();
        long now = warming || ejections ? System.nanoTime() : 0;
        Target best = null;
        double bestLoad = Double.MAX_VALUE;
        Target fallback = null;
        for (int i = 0; i < n; i++) {
            Target t = targets[(start + i) % n];
            if (Selector.tried(tried, t)) {
                continue;
            }
            if (ejections && snapshot.ejected(t, now)) {
                fallback = fallback == null ? t : fallback;
                continue;
            }
            // In slow start a target's weight grows with its share, as HAProxy's slowstart does.
            double weight = Math.max(1, t.weight()) * (warming ? Math.max(0.001, snapshot.share(t, now)) : 1.0);
            double load = (this.load.applyAsInt(t) + 1) / weight;
            if (load < bestLoad) {
                best = t;
                bestLoad = load;
            }
        }
        return best != null ? best : fallback;
    }
}
