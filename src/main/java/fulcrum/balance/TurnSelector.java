package fulcrum.balance;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every selector does around its own weighing of a target: it goes round the snapshot's
 * targets from the next turn (new sessions and other requests keep turns of their own, see
 * {@link Selector#select}), passes over those a retry already tried, and keeps ejected ones
 * only for when nothing else is left. The kinds differ in the targets they go round and in
 * {@link #score}.
 */
abstract class TurnSelector implements Selector {
    private final AtomicInteger sessions = new AtomicInteger();
    private final AtomicInteger others = new AtomicInteger();

    /** The targets to go round, in turn order. */
    abstract Target[] order(Snapshot snapshot);

    /**
     * How little {@code t} is wanted: at most 0 takes it at once, otherwise the lowest score
     * seen wins, the first of equals. {@code share}: its part of new requests while in slow
     * start, rising from 0 to 1; 1 otherwise.
     */
    abstract double score(Target t, double share);

    @Override
    public final Target select(Snapshot snapshot, List<Target> tried, boolean newSession) {
        Target[] order = order(snapshot);
        int n = order.length;
        if (n == 0) {
            return null;
        }
        int start = (newSession ? sessions : others).getAndIncrement() & Integer.MAX_VALUE;
        boolean warming = snapshot.warming();
        boolean ejections = snapshot.anyEjected();
        long now = warming || ejections ? System.nanoTime() : 0;
        Target best = null;
        double bestScore = Double.POSITIVE_INFINITY;
        Target ejected = null;
        for (int i = 0; i < n; i++) {
            Target t = order[(start + i) % n];
            if (Selector.tried(tried, t)) {
                continue;
            }
            if (ejections && snapshot.ejected(t, now)) {
                if (ejected == null) {
                    ejected = t; // every other one tried or ejected: better than none
                }
                continue;
            }
            double score = score(t, warming ? snapshot.share(t, now) : 1.0);
            if (score <= 0) {
                return t;
            }
            if (score < bestScore) {
                best = t;
                bestScore = score;
            }
        }
        return best != null ? best : ejected;
    }
}
