package fulcrum.config;

import java.time.Duration;

/**
 * Envoy's outlier detection, by its names: targets ejected from rotation by what live traffic
 * sees. A count of 0 turns its kind off; both 0 (the default) turn detection off.
 */
public record OutlierDetectionSettings(int consecutive5xx, int consecutiveGatewayFailure, Duration baseEjectionTime,
                                       Duration maxEjectionTime, int maxEjectionPercent) {

    static OutlierDetectionSettings from(Reader r) {
        Duration base = r.duration("base-ejection-time", false);
        Duration max = r.duration("max-ejection-time", false);
        if (max.compareTo(base) < 0) {
            throw r.error("max-ejection-time", max.toMillis() + "ms", "at least base-ejection-time (" + base.toMillis() + "ms)");
        }
        return new OutlierDetectionSettings(r.integer("consecutive-5xx", 0, 1000),
                                            r.integer("consecutive-gateway-failure", 0, 1000), base, max,
                                            r.integer("max-ejection-percent", 0, 100));
    }

    public boolean enabled() {
        return consecutive5xx > 0 || consecutiveGatewayFailure > 0;
    }
}
