package fulcrum.balance;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Weighted round-robin over the snapshot's ring; one atomic increment per request. New sessions
 * and other requests go round on counters of their own. A target in slow start takes its turn
 * with the probability of its share so far, so its part of new requests rises linearly to its
 * fair share.
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
        boolean warming = snapshot.warming();
        boolean ejections = snapshot.anyEjected();
        long now = warming || ejections ? System.nanoTime() : 0;
        Target fallback = null;
        for (int i = 0; i < n; i++) {
            Target t = ring[(start + i) % n];
            if (Selector.tried(tried, t)) {
                continue;
            }
            if (ejections && snapshot.ejected(t, now)) {
                if (fallback == null) {
                    fallback = t; // every other one tried or ejected: better than none
                }
                continue;
            }
            // A target in slow start takes its turn with the probability of its share so far.
            double share = warming ? snapshot.share(t, now) : 1.0;
            if (share >= 1.0 || ThreadLocalRandom.current().nextDouble() < share) {
                return t;
            }
            if (fallback == null) {
                fallback = t;
            }
        }
        return fallback;
    }
}
