package fulcrum.config;

import fulcrum.http.DesyncMode;
import fulcrum.http.RequestLimits;

import java.time.Duration;

/** One address the balancer accepts client connections on, and how it treats them. */
public record ListenerSettings(String name, HostPort bind, String defaultTargetGroup, Duration idleTimeout,
                               Duration headerTimeout, int maxConnections, RequestLimits limits,
                               ForwardedHeadersSettings forwardedHeaders) {

    static ListenerSettings from(Reader r) {
        String name = r.string("name");
        if (name.isBlank()) {
            throw r.error("name", "\"\"", "a name");
        }
        HostPort bind;
        try {
            bind = HostPort.parseBind(r.string("bind"));
        } catch (IllegalArgumentException e) {
            throw r.error("bind", r.string("bind"), "\"host:port\": " + e.getMessage());
        }
        RequestLimits limits = new RequestLimits(
                (int) r.bytes("max-request-line", 256, 1 << 20), (int) r.bytes("max-header-size", 1024, 1 << 24),
                r.integer("max-headers", 1, 10_000), r.bytes("max-body-size", 0, Long.MAX_VALUE),
                (int) r.bytes("max-chunk-line", 64, 1 << 20),
                r.enumeration("desync-mitigation-mode", DesyncMode.class));
        return new ListenerSettings(name, bind, r.string("default-target-group"), r.duration("idle-timeout", false),
                                    r.duration("header-timeout", false), r.integer("max-connections", 0,
                                                                                    Integer.MAX_VALUE),
                                    limits, ForwardedHeadersSettings.from(r.child("forwarded-headers")));
    }
}
