package fulcrum.balance;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Weighted round-robin over the snapshot's ring; one atomic increment per request. A target in
 * slow start takes its turn with the probability of its share so far, so its part of new
 * requests rises linearly to its fair share; one that lets its turn pass is still chosen before
 * an ejected one when no other target takes its turn.
 */
final class RoundRobinSelector extends TurnSelector {

    @Override
    Target[] order(Snapshot snapshot) {
        return snapshot.ring();
    }

    @Override
    double score(Target t, double share) {
        return share >= 1.0 || ThreadLocalRandom.current().nextDouble() < share ? 0 : 1;
    }
}
