package fulcrum.balance;

import java.util.function.ToIntFunction;

/**
 * The routable target with the least load relative to its weight; ties go round the group so
 * that an idle group still spreads evenly. The load is either the requests in flight
 * (least-outstanding-requests) or, for long-lived sessions, HAProxy's leastconn: open WebSocket
 * tunnels, Engine.IO sessions and requests in flight (least-connections), so a target added after
 * a scale-out takes the new sessions until it holds its share instead of staying idle while the
 * old ones keep everybody.
 */
final class LeastLoadSelector extends TurnSelector {
    private final ToIntFunction<Target> load;

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
    Target[] order(Snapshot snapshot) {
        return snapshot.weightedArray();
    }

    @Override
    double score(Target t, double share) {
        // In slow start a target's weight grows with its share, as HAProxy's slowstart does.
        double weight = Math.max(1, t.weight()) * Math.max(0.001, share);
        return (load.applyAsInt(t) + 1) / weight;
    }
}
