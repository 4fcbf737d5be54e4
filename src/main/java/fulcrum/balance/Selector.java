package fulcrum.balance;

import fulcrum.config.TargetGroupSettings.Algorithm;

/** Chooses a target among a snapshot's routable targets for one request. */
public interface Selector {

    /**
     * A routable target that is not {@code avoid} (the target a retry moves away from), or null
     * when the snapshot has none to offer.
     */
    Target select(Snapshot snapshot, Target avoid);

    static Selector of(Algorithm algorithm) {
        return switch (algorithm) {
            case ROUND_ROBIN -> new RoundRobinSelector();
            case LEAST_OUTSTANDING_REQUESTS -> new LeastOutstandingSelector();
        };
    }
}
