package fulcrum.balance;

import fulcrum.config.TargetGroupSettings.Algorithm;

/** Chooses a target among a snapshot's routable targets for one request. */
public interface Selector {

    /**
     * A routable target not in {@code tried} (the targets a retried request already failed on;
     * null when none), or null when the snapshot has none to offer. {@code newSession}: whether
     * the request starts a session (always, in a group without stickiness). Only those advance
     * the choice of target for sessions; the others (CORS preflights, requests outside any
     * session) take turns of their own, so however many of them a client sends, sessions still
     * spread evenly.
     */
    Target select(Snapshot snapshot, java.util.List<Target> tried, boolean newSession);

    default Target select(Snapshot snapshot, java.util.List<Target> tried) {
        return select(snapshot, tried, true);
    }

    static boolean tried(java.util.List<Target> tried, Target t) {
        return tried != null && tried.contains(t);
    }

    static Selector of(Algorithm algorithm) {
        return switch (algorithm) {
            case ROUND_ROBIN -> new RoundRobinSelector();
            case LEAST_OUTSTANDING_REQUESTS -> LeastLoadSelector.outstandingRequests();
            case LEAST_CONNECTIONS -> LeastLoadSelector.connections();
        };
    }
}
