package fulcrum.balance;

import java.util.concurrent.atomic.AtomicInteger;

/** Weighted round-robin over the snapshot's ring; one atomic increment per request. */
final class RoundRobinSelector implements Selector {
    private final AtomicInteger next = new AtomicInteger();

    @Override
    public Target select(Snapshot snapshot, java.util.List<Target> tried) {
        Target[] ring = snapshot.ring();
        int n = ring.length;
        if (n == 0) {
            return null;
        }
        int start = next.getAndIncrement() & Integer.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            Target t = ring[(start + i) % n];
            if (!Selector.tried(tried, t)) {
                return t;
            }
        }
        return null;
    }
}
