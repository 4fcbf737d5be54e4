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
        Target best = null;
        double bestLoad = Double.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            Target t = targets[(start + i) % n];
            if (Selector.tried(tried, t)) {
                continue;
            }
            double load = (t.outstandingRequests() + 1) / (double) Math.max(1, t.weight());
            if (load < bestLoad) {
                best = t;
                bestLoad = load;
            }
        }
        return best;
    }
}
