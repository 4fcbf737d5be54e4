package fulcrum.config;

import java.time.Duration;

/** Active health checking of a target group's targets. {@code port} 0 means the traffic port. */
public record HealthCheckSettings(boolean enabled, Protocol protocol, String path, int port,
                                  Duration interval, Duration timeout, int healthyThreshold,
                                  int unhealthyThreshold, StatusMatcher matcher, OnUnhealthy onUnhealthy) {

    public enum Protocol { HTTP, TCP }

    public enum OnUnhealthy { CLOSE_CONNECTIONS, KEEP }

    static HealthCheckSettings from(Reader r) {
        String path = r.string("path");
        if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
            throw r.error("path", path, "an absolute path such as /health");
        }
        int port = 0;
        String portValue = r.string("port");
        if (!portValue.equals("traffic-port")) {
            port = r.integer("port", 1, 65535);
        }
        Duration interval = r.duration("interval", false);
        Duration timeout = r.duration("timeout", false);
        if (timeout.compareTo(interval) > 0) {
            throw r.error("timeout", SettingsException.show(r.config().getValue("timeout")),
                          "no longer than interval (" + interval.toMillis() + "ms)");
        }
        StatusMatcher matcher;
        try {
            matcher = StatusMatcher.parse(r.string("matcher"));
        } catch (IllegalArgumentException e) {
            throw r.error("matcher", r.string("matcher"), "status codes and ranges such as 200, 200-299 or 200,302 ("
                                                         + e.getMessage() + ")");
        }
        return new HealthCheckSettings(r.bool("enabled"), r.enumeration("protocol", Protocol.class), path, port,
                                       interval, timeout, r.integer("healthy-threshold", 1, 100),
                                       r.integer("unhealthy-threshold", 1, 100), matcher,
                                       r.enumeration("on-unhealthy", OnUnhealthy.class));
    }
}
