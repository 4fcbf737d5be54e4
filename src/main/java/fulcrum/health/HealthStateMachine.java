package fulcrum.health;

import fulcrum.balance.HealthState;

/**
 * Counts one target's consecutive check results and says when its state should change:
 * <ul>
 *   <li>initial -> healthy after one success: a balancer started in front of live servers is
 *       fully healthy after its first round of probes;</li>
 *   <li>initial or healthy -> unhealthy after {@code unhealthy-threshold} consecutive failures;</li>
 *   <li>unhealthy -> healthy after {@code healthy-threshold} consecutive successes;</li>
 *   <li>draining and unused targets never change here.</li>
 * </ul>
 * A failure seen by live traffic counts like a failed probe. Not thread-safe: one per target,
 * used from that target's event loop only. Thresholds are passed on every call so that new
 * settings apply at the next result.
 */
final class HealthStateMachine {
    private int successes;
    private int failures;

    /** A check passed; returns the state to move to, or null to stay. */
    HealthState succeeded(HealthState current, int healthyThreshold) {
        failures = 0;
        successes++;
        return switch (current) {
            case INITIAL -> HealthState.HEALTHY;
            case UNHEALTHY -> successes >= healthyThreshold ? HealthState.HEALTHY : null;
            default -> null;
        };
    }

    /** A check failed; returns the state to move to, or null to stay. */
    HealthState failed(HealthState current, int unhealthyThreshold) {
        successes = 0;
        failures++;
        return switch (current) {
            case INITIAL, HEALTHY -> failures >= unhealthyThreshold ? HealthState.UNHEALTHY : null;
            default -> null;
        };
    }

    int consecutiveSuccesses() {
        return successes;
    }

    int consecutiveFailures() {
        return failures;
    }
}
