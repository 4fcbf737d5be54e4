package fulcrum.server;

import fulcrum.config.ActionSettings;
import fulcrum.config.ConditionSettings;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.RuleSettings;
import fulcrum.config.TlsSettings;
import fulcrum.config.HealthCheckSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.config.StickinessSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.config.TargetSpec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** What {@code --check} prints: the configuration as the balancer understood it, and warnings. */
public final class CheckReport {
    /** Socket.IO's defaults: a session is silent for up to pingInterval + pingTimeout. */
    static final Duration SOCKET_IO_SILENCE = Duration.ofSeconds(25 + 20);

    private CheckReport() {
    }

    public static String render(Path file, FulcrumSettings s) {
        StringBuilder b = new StringBuilder();
        b.append(file).append(": valid\n");
        for (ListenerSettings l : s.listeners()) {
            b.append(String.format(Locale.ROOT, "listener %s  bind %s  %s  idle-timeout %s%s%n",
                                   l.name(), l.bind(), l.defaultTargetGroup() != null
                                           ? "default-target-group " + l.defaultTargetGroup()
                                           : "default-action " + action(l.defaultAction()),
                                   human(l.idleTimeout()), l.tls().enabled() ? "  https" : ""));
            for (TlsSettings.CertificateSettings c : l.tls().certificates()) {
                b.append(String.format(Locale.ROOT, "  certificate %s  names %s  expires %s%n", c.certFile(),
                                       String.join(", ", c.names()), c.leaf().getNotAfter().toInstant()));
            }
            for (RuleSettings r : l.rules()) {
                b.append(String.format(Locale.ROOT, "  rule %d  if %s  then %s%n", r.priority(),
                                       conditions(r.conditions()), action(r.action())));
            }
        }
        for (TargetGroupSettings g : s.targetGroups().values()) {
            List<String> targets = new ArrayList<>();
            for (TargetSpec t : g.targets()) {
                targets.add(t.weight() == 1 ? t.address().toString() : t.address() + " (weight " + t.weight() + ")");
            }
            b.append(String.format(Locale.ROOT, "target group %s  %s  targets [%s]%n", g.name(),
                                   label(g.algorithm()), String.join(", ", targets)));
            StickinessSettings st = g.stickiness();
            b.append("  stickiness ").append(st.enabled()
                    ? label(st.type()) + (st.usesCookie() ? " cookie " + st.cookieName() + " for " + human(st.duration()) : "")
                    : "off").append('\n');
            HealthCheckSettings hc = g.healthCheck();
            if (hc.enabled()) {
                b.append(String.format(Locale.ROOT,
                        "  health-check %s %s port %s every %s timeout %s healthy-threshold %d "
                        + "unhealthy-threshold %d %s %s on-unhealthy %s%n",
                        hc.kind(), hc.protocol() == HealthCheckSettings.Protocol.HTTP ? path(hc) : "",
                        hc.port() == 0 ? "traffic-port" : Integer.toString(hc.port()), human(hc.interval()),
                        human(hc.timeout()), hc.healthyThreshold(), hc.unhealthyThreshold(),
                        hc.version() == TargetGroupSettings.ProtocolVersion.GRPC ? "grpc-codes" : "matcher", hc.matcher(),
                        label(hc.onUnhealthy())));
            } else {
                b.append("  health-check off (every target takes traffic)\n");
            }
            b.append(String.format(Locale.ROOT, "  connect-timeout %s response-timeout %s max-retries %d%n",
                                   human(g.connectTimeout()), human(g.responseTimeout()), g.maxRetries()));
        }
        for (String w : warnings(s)) {
            b.append("warning: ").append(w).append('\n');
        }
        return b.toString();
    }

    /** Misconfigurations that are valid but break real-time clients. */
    public static List<String> warnings(FulcrumSettings s) {
        List<String> out = new ArrayList<>();
        for (ListenerSettings l : s.listeners()) {
            if (l.idleTimeout().compareTo(SOCKET_IO_SILENCE) < 0) {
                out.add("listener " + l.name() + ": idle-timeout " + human(l.idleTimeout())
                        + " is shorter than a Socket.IO session may stay silent (pingInterval 25s + pingTimeout 20s"
                        + " = 45s); clients will be disconnected every " + human(l.idleTimeout()));
            }
        }
        for (TargetGroupSettings g : s.targetGroups().values()) {
            if (g.responseTimeout().compareTo(SOCKET_IO_SILENCE) < 0) {
                out.add("target group " + g.name() + ": response-timeout " + human(g.responseTimeout())
                        + " is shorter than a Socket.IO long-poll may wait (up to 45s with default ping settings)");
            }
        }
        return out;
    }

    private static String conditions(ConditionSettings c) {
        List<String> parts = new ArrayList<>();
        if (!c.hosts().isEmpty()) {
            parts.add("host " + c.hosts());
        }
        if (!c.paths().isEmpty()) {
            parts.add("path " + c.paths());
        }
        if (!c.methods().isEmpty()) {
            parts.add("method " + c.methods());
        }
        c.headers().forEach((k, v) -> parts.add("header " + k + " " + v));
        c.query().forEach((k, v) -> parts.add("query " + k + " " + v));
        if (!c.sourceIps().isEmpty()) {
            parts.add("source-ip " + c.sourceIps());
        }
        return parts.isEmpty() ? "any request" : String.join(" and ", parts);
    }

    private static String action(ActionSettings a) {
        if (a instanceof ActionSettings.Forward f) {
            List<String> groups = new ArrayList<>();
            for (ActionSettings.WeightedGroup g : f.targetGroups()) {
                groups.add(f.targetGroups().size() == 1 ? g.name() : g.name() + " (weight " + g.weight() + ")");
            }
            return "forward to " + String.join(", ", groups)
                   + (f.stickiness() != null ? " sticky for " + human(f.stickiness()) : "");
        }
        if (a instanceof ActionSettings.Redirect r) {
            return "redirect " + r.status() + " to " + r.protocol() + "://" + r.host() + ":" + r.port() + r.path()
                   + "?" + r.query();
        }
        if (a instanceof ActionSettings.FixedResponse f) {
            return "answer " + f.status() + " " + f.contentType();
        }
        return String.valueOf(a);
    }

    private static String path(HealthCheckSettings hc) {
        return hc.grpcHealthService() ? hc.path() + " service \"" + hc.grpcService() + "\"" : hc.path();
    }

    static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        if (ms % 86_400_000 == 0 && ms > 0) {
            return ms / 86_400_000 + "d";
        }
        if (ms % 3_600_000 == 0 && ms > 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}
