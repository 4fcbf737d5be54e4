package fulcrum.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** A named set of targets, how one is chosen, and how the balancer talks to them. */
public record TargetGroupSettings(String name, List<TargetSpec> targets, Algorithm algorithm,
                                  StickinessSettings stickiness, Duration connectTimeout,
                                  Duration responseTimeout, Duration keepAliveTimeout, int maxIdleConnections,
                                  int maxRetries, int maxResponseHeaderSize, Duration deregistrationDelay,
                                  int drainCloseRate, HealthCheckSettings healthCheck, Duration dnsRefreshInterval,
                                  Duration slowStart, OutlierDetectionSettings outlierDetection,
                                  ProtocolVersion protocolVersion) {

    public enum Algorithm { ROUND_ROBIN, LEAST_OUTSTANDING_REQUESTS, LEAST_CONNECTIONS }

    /** How requests travel to the targets (ALB's names): HTTP/1.1, HTTP/2 (h2c), or gRPC over HTTP/2. */
    public enum ProtocolVersion { HTTP1, HTTP2, GRPC }

    public TargetGroupSettings {
        targets = List.copyOf(targets);
    }

    static TargetGroupSettings from(String name, Reader r) {
        ProtocolVersion version = r.enumeration("protocol-version", ProtocolVersion.class);
        return new TargetGroupSettings(
                name, targets(r), r.enumeration("algorithm", Algorithm.class),
                StickinessSettings.from(r.child("stickiness")),
                r.duration("connect-timeout", false), r.duration("response-timeout", false),
                r.duration("keep-alive-timeout", true), r.integer("max-idle-connections", 0, 100_000),
                r.integer("max-retries", 0, 10),
                (int) r.bytes("max-response-header-size", 1024, 1024 * 1024),
                r.duration("deregistration-delay", true), r.integer("drain-close-rate", 1, 1_000_000),
                HealthCheckSettings.from(r.child("health-check"), version), r.duration("dns-refresh-interval", false),
                slowStart(r), OutlierDetectionSettings.from(r.child("outlier-detection")), version);
    }

    private static Duration slowStart(Reader r) {
        Duration d = r.duration("slow-start", true);
        if (d.compareTo(Duration.ofMinutes(15)) > 0) {
            throw r.error("slow-start", d.toSeconds() + "s", "0 (off) to 15m");
        }
        return d;
    }

    private static List<TargetSpec> targets(Reader r) {
        List<TargetSpec> out = new ArrayList<>();
        Set<HostPort> seen = new HashSet<>();
        int i = 0;
        for (ConfigValue v : r.list("targets")) {
            String key = r.path("targets") + "[" + i++ + "]";
            TargetSpec spec = target(key, v);
            if (!seen.add(spec.address())) {
                throw SettingsException.of(key, SettingsException.show(v), "each target once", v.origin());
            }
            out.add(spec);
        }
        return out;
    }

    /** A target written as "host:port" or { address = "host:port", weight = 2 }. */
    public static TargetSpec target(String key, ConfigValue v) {
        if (v.valueType() == ConfigValueType.STRING) {
            return new TargetSpec(address(key, v), 1);
        }
        if (v.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(key, SettingsException.show(v), "\"host:port\" or { address = \"host:port\", weight = 1 }",
                                       v.origin());
        }
        ConfigObject o = (ConfigObject) v;
        for (String k : o.keySet()) {
            if (!k.equals("address") && !k.equals("weight")) {
                throw SettingsException.of(key + "." + k, SettingsException.show(o.get(k)), "only address and weight",
                                           o.get(k).origin());
            }
        }
        Config c = o.toConfig();
        Reader r = new Reader(c, key);
        HostPort address = address(key + ".address", r.value("address", "\"host:port\""));
        int weight = c.hasPath("weight") ? r.integer("weight", 0, 999) : 1;
        return new TargetSpec(address, weight);
    }

    private static HostPort address(String key, ConfigValue v) {
        if (v.valueType() != ConfigValueType.STRING) {
            throw SettingsException.of(key, SettingsException.show(v), "\"host:port\"", v.origin());
        }
        try {
            HostPort a = HostPort.parse((String) v.unwrapped());
            if (a.port() == 0) {
                throw new IllegalArgumentException("port 0 is not a target's port");
            }
            return a;
        } catch (IllegalArgumentException e) {
            throw SettingsException.of(key, SettingsException.show(v), "\"host:port\": " + e.getMessage(), v.origin());
        }
    }
}
