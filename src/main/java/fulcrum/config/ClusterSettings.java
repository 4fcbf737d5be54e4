package fulcrum.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;

/**
 * Several instances behaving as one through a shared Redis (fulcrum.cluster). {@code redis} null:
 * a single instance, nothing shared, no Redis client started.
 */
public record ClusterSettings(String redis, String keyPrefix, String instanceId, String password, boolean tls,
                              boolean verifyPeer, Duration connectTimeout, Duration commandTimeout,
                              Duration sessionLookupTimeout, Duration syncInterval, Duration healthViewInterval,
                              Duration retryMin, Duration retryMax) {

    public boolean enabled() {
        return redis != null;
    }

    static ClusterSettings from(Reader r) {
        String redis = r.optionalString("redis");
        if (redis != null) {
            try {
                URI u = new URI(redis);
                if (!"redis".equals(u.getScheme()) && !"rediss".equals(u.getScheme())) {
                    throw r.error("redis", redis, "a redis://host:port/db or rediss://host:port/db URI");
                }
                if (u.getHost() == null) {
                    throw r.error("redis", redis, "a URI with a host, redis://host:port/db");
                }
            } catch (URISyntaxException e) {
                throw r.error("redis", redis, "a redis://host:port/db URI: " + e.getMessage());
            }
        }
        String prefix = r.string("key-prefix");
        if (prefix.isEmpty()) {
            throw r.error("key-prefix", "\"\"", "a non-empty prefix such as \"fulcrum:\"");
        }
        Duration lookup = r.duration("session-lookup-timeout", false);
        Duration command = r.duration("command-timeout", false);
        Duration retryMin = r.duration("retry-min", false);
        Duration retryMax = r.duration("retry-max", false);
        if (retryMax.compareTo(retryMin) < 0) {
            throw r.error("retry-max", retryMax, ">= retry-min (" + retryMin + ")");
        }
        return new ClusterSettings(redis, prefix, r.optionalString("instance-id"), r.optionalString("password"),
                                   r.bool("tls"), r.bool("verify-peer"), r.duration("connect-timeout", false),
                                   command, lookup, r.duration("sync-interval", false),
                                   r.duration("health-view-interval", false), retryMin, retryMax);
    }

    @Override
    public String toString() {
        // The password stays out of logs and reload reports.
        return "ClusterSettings[redis=" + redis + ", keyPrefix=" + keyPrefix + ", instanceId=" + instanceId + "]";
    }
}
