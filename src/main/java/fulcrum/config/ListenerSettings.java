package fulcrum.config;

import com.typesafe.config.Config;
import fulcrum.http.DesyncMode;
import fulcrum.http.RequestLimits;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * One address the balancer accepts client connections on, and how it treats them.
 * {@code defaultTargetGroup} is the default action's group when that forwards to exactly one,
 * null otherwise; {@code rules} are sorted by priority.
 */
public record ListenerSettings(String name, HostPort bind, String defaultTargetGroup, Duration idleTimeout,
                               Duration headerTimeout, int maxConnections, RequestLimits limits,
                               ForwardedHeadersSettings forwardedHeaders, List<RuleSettings> rules,
                               ActionSettings defaultAction, TlsSettings tls, H2Settings http2) {

    public ListenerSettings {
        rules = List.copyOf(rules);
    }

    /** {@code defaults}: the {@code fulcrum} object; {@code groups}: the target group names. */
    static ListenerSettings from(Reader r, Config defaults, Set<String> groups) {
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
        ActionSettings defaultAction = defaultAction(r, defaults, groups);
        String defaultGroup = defaultAction instanceof ActionSettings.Forward f && f.targetGroups().size() == 1
                              ? f.targetGroups().get(0).name() : null;
        List<RuleSettings> rules = RuleSettings.list(r, defaults, groups);
        return new ListenerSettings(name, bind, defaultGroup, r.duration("idle-timeout", false),
                                    r.duration("header-timeout", false), r.integer("max-connections", 0,
                                                                                    Integer.MAX_VALUE),
                                    limits, ForwardedHeadersSettings.from(r.child("forwarded-headers")),
                                    rules, defaultAction, TlsSettings.from(r.child("tls")),
                                    H2Settings.from(r.child("http2")));
    }

    /** default-action, or its shorthand default-target-group: exactly one of them. */
    private static ActionSettings defaultAction(Reader r, Config defaults, Set<String> groups) {
        boolean hasAction = !r.isNull("default-action");
        boolean hasGroup = !r.isNull("default-target-group");
        if (hasAction == hasGroup) {
            String expected = "exactly one of default-action and default-target-group";
            if (hasAction) {
                throw r.error("default-target-group", r.string("default-target-group"), expected);
            }
            // Neither is set: the listener's own line (its name) says where.
            throw SettingsException.of(r.path("default-action"), "null", expected, r.origin("name"));
        }
        if (hasAction) {
            return ActionSettings.from(r.path("default-action"), r.config().getValue("default-action"),
                                       defaults.getConfig("action-defaults"), groups);
        }
        String group = r.string("default-target-group");
        if (!groups.contains(group)) {
            throw r.error("default-target-group", group,
                          "the name of a target group (" + String.join(", ", groups) + ")");
        }
        return ActionSettings.Forward.to(group);
    }
}
