package fulcrum.balance;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Weighted round-robin over the snapshot's ring; one atomic increment per request. New sessions
 * and other requests go round on counters of their own.
 */
final class RoundRobinSelector implements Selector {
    private final AtomicInteger sessions = new AtomicInteger();
    private final AtomicInteger others = new AtomicInteger();

    @Override
    public Target select(Snapshot snapshot, java.util.List<Target> tried, boolean newSession) {
        Target[] ring = snapshot.ring();
        int n = ring.length;
        if (n == 0) {
            return null;
        }
        int start = (newSession ? sessions : others).getAndIncrement() & Integer.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            Target t = ring[(start + i) % n];
            if (!Selector.tried(tried, t)) {
                return t;
            }
        }
        return null;
    }
}
