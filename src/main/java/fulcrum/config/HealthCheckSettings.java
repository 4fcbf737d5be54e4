package fulcrum.config;

import fulcrum.config.TargetGroupSettings.ProtocolVersion;

import java.time.Duration;

/**
 * Active health checking of a target group's targets. {@code port} 0 means the traffic port.
 * {@code version} is the group's protocol-version: the probe speaks HTTP/1.1, HTTP/2 (h2c) or
 * gRPC. {@code matcher} holds HTTP status codes, or grpc-status codes for a grpc group.
 * {@code grpcService} is the service asked about by the standard gRPC health check (empty: the
 * whole server), null when the probe is not that check.
 */
public record HealthCheckSettings(boolean enabled, Protocol protocol, String path, int port,
                                  Duration interval, Duration timeout, int healthyThreshold,
                                  int unhealthyThreshold, StatusMatcher matcher, OnUnhealthy onUnhealthy,
                                  ProtocolVersion version, String grpcService) {

    /** The method of the standard gRPC health checking protocol (grpc.health.v1). */
    public static final String GRPC_HEALTH_PATH = "/grpc.health.v1.Health/Check";

    public enum Protocol { HTTP, TCP }

    public enum OnUnhealthy { CLOSE_CONNECTIONS, KEEP }

    /** Whether the probe asks the standard gRPC health service (and judges its answer's status). */
    public boolean grpcHealthService() {
        return grpcService != null;
    }

    /** What a probe speaks, in the words of the configuration: tcp, http, http2 or grpc. */
    public String kind() {
        if (protocol == Protocol.TCP) {
            return "tcp";
        }
        return version == ProtocolVersion.HTTP1 ? "http" : version.name().toLowerCase(java.util.Locale.ROOT);
    }

    static HealthCheckSettings from(Reader r, ProtocolVersion version) {
        boolean grpc = version == ProtocolVersion.GRPC;
        String path = r.isNull("path") ? (grpc ? GRPC_HEALTH_PATH : "/") : r.string("path");
        if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
            throw r.error("path", path, grpc ? "a gRPC method's path such as " + GRPC_HEALTH_PATH
                                             : "an absolute path such as /health");
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
        return new HealthCheckSettings(r.bool("enabled"), r.enumeration("protocol", Protocol.class), path, port,
                                       interval, timeout, r.integer("healthy-threshold", 1, 100),
                                       r.integer("unhealthy-threshold", 1, 100), matcher(r, grpc),
                                       r.enumeration("on-unhealthy", OnUnhealthy.class), version,
                                       grpcService(r, grpc, path));
    }

    /** A grpc group is judged by grpc-codes, any other by matcher; the other key set here is a mistake. */
    private static StatusMatcher matcher(Reader r, boolean grpc) {
        String used = grpc ? "grpc-codes" : "matcher";
        String other = grpc ? "matcher" : "grpc-codes";
        if (r.setHere(other)) {
            throw r.error(other, r.string(other), grpc
                    ? "grpc-codes on a grpc target group: its checks are judged by grpc-status, not HTTP status"
                    : "no grpc-codes: it applies to target groups with protocol-version = grpc only");
        }
        String text = r.string(used);
        try {
            return grpc ? StatusMatcher.grpc(text) : StatusMatcher.parse(text);
        } catch (IllegalArgumentException e) {
            throw r.error(used, text, (grpc ? "grpc-status codes and ranges such as 0, 0-99 or 0,12 ("
                                            : "status codes and ranges such as 200, 200-299 or 200,302 (")
                                      + e.getMessage() + ")");
        }
    }

    private static String grpcService(Reader r, boolean grpc, String path) {
        String service = r.string("grpc-service");
        if (!grpc) {
            if (r.setHere("grpc-service")) {
                throw r.error("grpc-service", SettingsException.show(r.config().getValue("grpc-service")),
                              "no grpc-service: it applies to target groups with protocol-version = grpc only");
            }
            return null;
        }
        if (!path.equals(GRPC_HEALTH_PATH)) {
            if (!service.isEmpty()) {
                throw r.error("grpc-service", service, "\"\": a service is asked about only on path "
                                                       + GRPC_HEALTH_PATH + ", and path is " + path);
            }
            return null;
        }
        return service;
    }
}
