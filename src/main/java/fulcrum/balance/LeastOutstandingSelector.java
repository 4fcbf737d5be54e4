package fulcrum.balance;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The routable target with the fewest requests in flight, relative to its weight; ties go round
 * the group so that an idle group still spreads evenly.
 */
final class LeastOutstandingSelector implements Selector {
    private final AtomicInteger sessions = new AtomicInteger();
    private final AtomicInteger others = new AtomicInteger();

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
            double load = (t.outstandingRequests() + 1) / weight;
            if (load < bestLoad) {
                best = t;
                bestLoad = load;
            }
        }
        return best != null ? best : fallback;
    }
}
