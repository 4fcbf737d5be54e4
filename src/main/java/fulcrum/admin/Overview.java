package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.ListenerSettings;
import fulcrum.proxy.ListenerContext;
import fulcrum.server.Balancer;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The live state of the balancer as JSON, on the operations thread: what {@code GET /overview}
 * answers (and the dashboard polls), and the live members {@code GET /targets} adds to each
 * target. Rates are per second over the latest {@link TrafficStats#SAMPLE_SECONDS} s sample;
 * latency percentiles over the last minute; {@code series} the rates of every sample kept,
 * oldest first, one array of {@code status_classes} per sample.
 */
final class Overview {
    private final Operations ops;

    Overview(Operations ops) {
        this.ops = ops;
    }

    String json() {
        Balancer balancer = ops.balancer();
        TrafficStats traffic = ops.traffic();
        StringBuilder b = new StringBuilder(4096).append("{\"time\":");
        Json.quote(b, Instant.now().toString());
        b.append(",\"sample_seconds\":").append(TrafficStats.SAMPLE_SECONDS)
         .append(",\"history\":").append(traffic.history()).append(",\"status_classes\":[");
        for (int i = 0; i < TrafficStats.CLASSES.length; i++) {
            Json.quote(b.append(i == 0 ? "" : ","), TrafficStats.CLASSES[i]);
        }
        b.append("],\"listeners\":[");
        List<ListenerContext> listeners = balancer.listenerContexts();
        for (int i = 0; i < listeners.size(); i++) {
            listener(b.append(i == 0 ? "" : ","), listeners.get(i), balancer.listenerAddress(i).toString());
        }
        b.append("],\"target_groups\":[");
        boolean first = true;
        for (TargetGroup g : balancer.targetGroups().values()) {
            group(b.append(first ? "" : ","), g);
            first = false;
        }
        b.append("],\"state_changes\":");
        stateChanges(b, ops.stateLog().recent());
        return b.append("}\n").toString();
    }

    private void listener(StringBuilder b, ListenerContext l, String address) {
        ListenerSettings s = l.settings();
        b.append("{\"name\":");
        Json.quote(b, s.name());
        b.append(",\"address\":");
        Json.quote(b, address.startsWith("/") ? address.substring(1) : address);
        b.append(",\"protocol\":").append(s.tls().enabled() ? "\"https\"" : "\"http\"").append(",\"target_group\":");
        if (s.defaultTargetGroup() == null) {
            b.append("null");
        } else {
            Json.quote(b, s.defaultTargetGroup());
        }
        b.append(",\"rules\":").append(s.rules().size()).append(",\"open_connections\":").append(l.openConnections())
         .append(",\"traffic\":");
        traffic(b, ops.traffic().listener(s.name(), true));
        b.append('}');
    }

    private void group(StringBuilder b, TargetGroup g) {
        b.append("{\"name\":");
        Json.quote(b, g.name());
        b.append(",\"algorithm\":");
        Json.quote(b, g.settings().algorithm().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        b.append(",\"stickiness\":");
        Json.quote(b, g.settings().stickiness().enabled()
                      ? g.settings().stickiness().type().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')
                      : "off");
        b.append(",\"health_checks\":").append(g.settings().healthCheck().enabled())
         .append(",\"deregistration_delay_seconds\":").append(g.settings().deregistrationDelay().toMillis() / 1000.0)
         .append(",\"fail_open\":").append(g.snapshot().failOpen())
         .append(",\"engine_io_sessions\":").append(g.engineIo().size())
         .append(",\"unassigned\":");
        traffic(b, ops.traffic().unassigned(g.name(), true));
        b.append(",\"targets\":[");
        Map<Target, Integer> sessions = g.engineIo().countByTarget(System.nanoTime());
        boolean first = true;
        for (Target t : g.snapshot().all()) {
            b.append(first ? "{" : ",{");
            first = false;
            AdminApi.targetFields(b, t);
            live(b, g, t, sessions, true);
            b.append('}');
        }
        b.append("]}");
    }

    /**
     * Appends the live members of {@code t}: Engine.IO sessions, traffic, and while draining its
     * progress ({@code sessions}: the group's counts by target, see EngineIoSessions#countByTarget).
     */
    void live(StringBuilder b, TargetGroup g, Target t, Map<Target, Integer> sessions, boolean series) {
        b.append(",\"engine_io_sessions\":").append(sessions.getOrDefault(t, 0)).append(",\"traffic\":");
        traffic(b, ops.traffic().target(g.name(), t.id(), series));
        if (t.state() == HealthState.DRAINING) {
            double delay = g.settings().deregistrationDelay().toMillis() / 1000.0;
            double elapsed = Math.max(0, (System.currentTimeMillis() - t.since().toEpochMilli()) / 1000.0);
            b.append(",\"draining\":{\"elapsed_seconds\":").append(round(elapsed))
             .append(",\"deregistration_delay_seconds\":").append(delay)
             .append(",\"outstanding_requests\":").append(t.outstandingRequests())
             .append(",\"tunnels\":").append(t.tunnels()).append('}');
        }
    }

    private static void traffic(StringBuilder b, TrafficStats.View v) {
        if (v == null) {
            b.append("null");
            return;
        }
        b.append("{\"requests_per_second\":").append(round(v.requestsPerSecond())).append(",\"per_second\":{");
        for (int i = 0; i < TrafficStats.CLASSES.length; i++) {
            b.append(i == 0 ? "\"" : ",\"").append(TrafficStats.CLASSES[i]).append("\":").append(round(v.perSecond()[i]));
        }
        b.append("},\"latency_requests\":").append(v.latencyCount())
         .append(",\"p50_ms\":").append(millis(v.p50Millis()))
         .append(",\"p99_ms\":").append(millis(v.p99Millis()));
        if (v.series() != null) {
            b.append(",\"series\":[");
            for (int k = 0; k < v.series().length; k++) {
                b.append(k == 0 ? "[" : ",[");
                double[] point = v.series()[k];
                for (int i = 0; i < point.length; i++) {
                    b.append(i == 0 ? "" : ",").append(round(point[i]));
                }
                b.append(']');
            }
            b.append(']');
        }
        b.append('}');
    }

    static void stateChanges(StringBuilder b, List<StateLog.Change> changes) {
        b.append('[');
        for (int i = 0; i < changes.size(); i++) {
            StateLog.Change c = changes.get(i);
            b.append(i == 0 ? "{\"time\":" : ",{\"time\":");
            Json.quote(b, c.time().toString());
            b.append(",\"target_group\":");
            Json.quote(b, c.group());
            b.append(",\"target\":");
            Json.quote(b, c.target());
            b.append(",\"from\":");
            Json.quote(b, c.from());
            b.append(",\"to\":");
            Json.quote(b, c.to());
            b.append(",\"reason\":");
            Json.quote(b, c.reason());
            b.append('}');
        }
        b.append(']');
    }

    private static String millis(double ms) {
        if (Double.isNaN(ms)) {
            return "null";
        }
        return Double.toString(ms < 10 ? Math.round(ms * 1000) / 1000.0 : Math.round(ms * 10) / 10.0);
    }

    /** {@code x} to two decimals, without ".0" for whole numbers (most samples of a quiet target are 0). */
    private static String round(double x) {
        long hundredths = Math.round(x * 100);
        return hundredths % 100 == 0 ? Long.toString(hundredths / 100) : Double.toString(hundredths / 100.0);
    }
}
