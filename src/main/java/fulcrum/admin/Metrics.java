package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.Snapshot;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.ListenerSettings;
import fulcrum.health.HealthChecker;
import fulcrum.http.DesyncClass;
import fulcrum.proxy.ExchangeObserver;
import fulcrum.proxy.ListenerContext;
import fulcrum.server.Balancer;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmBufferPoolMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmClassLoadingMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmCompilationMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmGarbageCollectorMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmNativeMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmRuntimeInfoMetric;
import io.prometheus.metrics.instrumentation.jvm.JvmThreadsMetrics;
import io.prometheus.metrics.instrumentation.jvm.ProcessMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The balancer's Prometheus metrics, through the client library. Counters and histograms are
 * fed by each listener's {@link ExchangeObserver} on the event loops, through label children
 * resolved once per listener, group and target and cached (a map lookup per request, no string
 * building). Gauges (open connections, tunnels, healthy targets) are read from the balancer's
 * own state when scraped, so they cannot drift from it and cost the request path nothing.
 */
final class Metrics {
    static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
    /** Status classes by status / 100; "none": the client left before any response. */
    private static final String[] CODES = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    private static final double[] SECONDS = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private volatile Balancer balancer;

    private final Counter requests = register(Counter.builder().name("fulcrum_requests_total")
            .help("Requests answered, by listener, target group, target and status class sent to the client"
                  + " (target and group empty when the balancer answered itself)")
            .labelNames("listener", "target_group", "target", "code").withoutExemplars().build());
    private final Counter byProtocol = register(Counter.builder().name("fulcrum_requests_by_protocol_total")
            .help("Requests answered, by listener and the client's protocol (HTTP/1.0, HTTP/1.1, HTTP/2.0)")
            .labelNames("listener", "protocol").withoutExemplars().build());
    private final Histogram duration = register(Histogram.builder().name("fulcrum_request_duration_seconds")
            .help("Time from the request head's arrival to the end of the response")
            .labelNames("listener", "target_group").classicOnly().classicUpperBounds(SECONDS)
            .withoutExemplars().build());
    private final Counter received = register(Counter.builder().name("fulcrum_received_bytes_total")
            .help("Bytes received from clients (request bodies and tunnels)").labelNames("listener")
            .withoutExemplars().build());
    private final Counter sent = register(Counter.builder().name("fulcrum_sent_bytes_total")
            .help("Bytes sent to clients (response bodies and tunnels)").labelNames("listener")
            .withoutExemplars().build());
    private final Counter connections = register(Counter.builder().name("fulcrum_client_connections_total")
            .help("Client connections accepted").labelNames("listener").withoutExemplars().build());
    private final Counter tunnelsClosed = register(Counter.builder().name("fulcrum_tunnels_closed_total")
            .help("WebSocket tunnels ended").labelNames("listener", "target_group").withoutExemplars().build());
    private final Counter rejected = register(Counter.builder().name("fulcrum_rejected_requests_total")
            .help("Requests refused before routing, by status (the limit or timeout) and desync class")
            .labelNames("listener", "status", "desync_class").withoutExemplars().build());
    private final Counter connectFailures = register(Counter.builder().name("fulcrum_target_connect_failures_total")
            .help("Backend connections that could not be opened").labelNames("target_group", "target")
            .withoutExemplars().build());
    private final Counter retries = register(Counter.builder().name("fulcrum_retries_total")
            .help("Requests moved to another target after a failed attempt").labelNames("target_group", "target")
            .withoutExemplars().build());
    private final Counter healthChecks = register(Counter.builder().name("fulcrum_health_checks_total")
            .help("Health check results; passive_failure: live traffic could not connect")
            .labelNames("target_group", "target", "result").withoutExemplars().build());

    /** Label children by group, then target; target "" for exchanges that reached none. */
    private final Map<String, Map<String, TargetPoints>> byTarget = new ConcurrentHashMap<>();

    Metrics() {
        registry.register(GaugeWithCallback.builder().name("fulcrum_active_client_connections")
                .help("Client connections open now").labelNames("listener").callback(cb -> {
                    Balancer b = balancer;
                    if (b != null) {
                        for (ListenerContext l : b.listenerContexts()) {
                            cb.call(l.openConnections(), l.settings().name());
                        }
                    }
                }).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_target_open_connections")
                .help("Backend connections open to each target").labelNames("target_group", "target")
                .callback(cb -> eachTarget((g, t) -> cb.call(t.openConnections(), g.name(), t.id()))).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_active_tunnels")
                .help("WebSocket tunnels open to each target").labelNames("target_group", "target")
                .callback(cb -> eachTarget((g, t) -> cb.call(t.tunnels(), g.name(), t.id()))).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_healthy_targets")
                .help("Targets taking traffic as healthy (ALB's HealthyHostCount; unused ones count)")
                .labelNames("target_group").callback(cb -> eachGroup(
                        (g, counts) -> cb.call(counts.get(HealthState.HEALTHY) + counts.get(HealthState.UNUSED),
                                               g.name()))).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_unhealthy_targets")
                .help("Targets failing their health checks (ALB's UnHealthyHostCount)").labelNames("target_group")
                .callback(cb -> eachGroup((g, counts) -> cb.call(counts.get(HealthState.UNHEALTHY), g.name())))
                .build());
        registry.register(CounterWithCallback.builder().name("fulcrum_outlier_ejections_total")
                .help("Times outlier detection ejected each target").labelNames("target_group", "target")
                .callback(cb -> eachTarget((g, t) -> cb.call(t.ejections(), g.name(), t.id()))).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_ejected_targets")
                .help("Targets outlier detection keeps out of rotation now").labelNames("target_group")
                .callback(cb -> {
                    Balancer b = balancer;
                    if (b != null) {
                        long now = System.nanoTime();
                        for (TargetGroup g : b.targetGroups().values()) {
                            cb.call(g.snapshot().all().stream().filter(t -> t.ejected(now)).count(), g.name());
                        }
                    }
                }).build());
        registry.register(GaugeWithCallback.builder().name("fulcrum_targets")
                .help("Targets by state").labelNames("target_group", "state")
                .callback(cb -> eachGroup((g, counts) -> counts.forEach(
                        (state, n) -> cb.call(n, g.name(), state.label())))).build());
        // JvmMetrics less its pool allocation counters, fed by a listener that wakes a JMX thread
        // after every young collection, many times a second under load, on the event loop's core.
        JvmThreadsMetrics.builder().register(registry);
        JvmBufferPoolMetrics.builder().register(registry);
        JvmClassLoadingMetrics.builder().register(registry);
        JvmCompilationMetrics.builder().register(registry);
        JvmGarbageCollectorMetrics.builder().register(registry);
        JvmMemoryMetrics.builder().register(registry);
        JvmNativeMemoryMetrics.builder().register(registry);
        JvmRuntimeInfoMetric.builder().register(registry);
        ProcessMetrics.builder().register(registry);
    }

    private <M extends io.prometheus.metrics.model.registry.Collector> M register(M metric) {
        registry.register(metric);
        return metric;
    }

    /** The balancer whose state the gauges read; until then they are empty. */
    void attach(Balancer b) {
        this.balancer = b;
    }

    /** The cluster's Redis state and the shared session lookups. */
    void attach(fulcrum.cluster.Cluster c) {
        registry.register(GaugeWithCallback.builder().name("fulcrum_cluster_redis_up")
                .help("Whether the cluster's Redis answers (1) or not (0): sessions and targets are shared only then")
                .callback(cb -> cb.call(c.redisUp() ? 1 : 0)).build());
        registry.register(io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
                .name("fulcrum_cluster_redis_outages").help("Times the cluster's Redis stopped answering")
                .callback(cb -> cb.call(c.redisOutages())).build());
        registry.register(io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
                .name("fulcrum_cluster_redis_failures").help("Redis commands that failed or timed out")
                .callback(cb -> cb.call(c.redisFailures())).build());
        registry.register(io.prometheus.metrics.core.metrics.CounterWithCallback.builder()
                .name("fulcrum_cluster_session_lookups")
                .help("Engine.IO sids unknown here looked up in Redis, by result (unanswered: Redis down or failing; "
                      + "timeout: the request went on without the answer)")
                .labelNames("result").callback(cb -> {
                    cb.call(c.sessionLookupHits(), "hit");
                    cb.call(c.sessionLookupMisses(), "miss");
                    cb.call(c.sessionLookupsUnanswered(), "unanswered");
                    cb.call(c.sessionLookupsTimedOut(), "timeout");
                }).build());
    }

    /** The observer of one listener. */
    ExchangeObserver observer(ListenerSettings listener) {
        return new ListenerObserver(listener.name());
    }

    /** Counts health check results. */
    HealthChecker.ProbeObserver probes() {
        return (group, target, healthy, passive) -> {
            TargetPoints p = points(group.name(), target.id());
            (healthy ? p.checkPassed : passive ? p.passiveFailed : p.checkFailed).inc();
        };
    }

    /** Everything, in the Prometheus text format. */
    byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private TargetPoints points(String group, String target) {
        String g = group == null ? "" : group;
        String t = target == null ? "" : target;
        Map<String, TargetPoints> targets = byTarget.get(g);
        if (targets == null) {
            targets = byTarget.computeIfAbsent(g, k -> new ConcurrentHashMap<>());
        }
        TargetPoints p = targets.get(t);
        if (p == null) {
            p = targets.computeIfAbsent(t, k -> new TargetPoints(g, k));
        }
        return p;
    }

    private void eachTarget(java.util.function.BiConsumer<TargetGroup, Target> action) {
        Balancer b = balancer;
        if (b == null) {
            return;
        }
        for (TargetGroup g : b.targetGroups().values()) {
            for (Target t : g.snapshot().all()) {
                action.accept(g, t);
            }
        }
    }

    private void eachGroup(java.util.function.BiConsumer<TargetGroup, Map<HealthState, Integer>> action) {
        Balancer b = balancer;
        if (b == null) {
            return;
        }
        for (TargetGroup g : b.targetGroups().values()) {
            Snapshot s = g.snapshot();
            Map<HealthState, Integer> counts = new EnumMap<>(HealthState.class);
            for (HealthState st : HealthState.values()) {
                counts.put(st, 0);
            }
            for (Target t : s.all()) {
                counts.merge(t.state(), 1, Integer::sum);
            }
            action.accept(g, counts);
        }
    }

    /** The label children of one target (per listener they differ only in requests). */
    private final class TargetPoints {
        final String group;
        final String target;
        final CounterDataPoint connectFailed;
        final CounterDataPoint retried;
        final CounterDataPoint checkPassed;
        final CounterDataPoint checkFailed;
        final CounterDataPoint passiveFailed;

        TargetPoints(String group, String target) {
            this.group = group;
            this.target = target;
            this.connectFailed = connectFailures.labelValues(group, target);
            this.retried = retries.labelValues(group, target);
            this.checkPassed = healthChecks.labelValues(group, target, "success");
            this.checkFailed = healthChecks.labelValues(group, target, "failure");
            this.passiveFailed = healthChecks.labelValues(group, target, "passive_failure");
        }
    }

    /** One listener's observer: its own caches of label children, filled on first use. */
    private final class ListenerObserver implements ExchangeObserver {
        private final String listener;
        private final CounterDataPoint in;
        private final CounterDataPoint out;
        private final CounterDataPoint accepted;
        /** group -> target -> requests by status class. */
        private final Map<String, Map<String, CounterDataPoint[]>> requestPoints = new ConcurrentHashMap<>();
        private final Map<String, DistributionDataPoint> durations = new ConcurrentHashMap<>();
        private final Map<String, CounterDataPoint> tunnels = new ConcurrentHashMap<>();
        private final Map<String, CounterDataPoint> protocols = new ConcurrentHashMap<>();

        ListenerObserver(String listener) {
            this.listener = listener;
            this.in = received.labelValues(listener);
            this.out = sent.labelValues(listener);
            this.accepted = connections.labelValues(listener);
        }

        @Override
        public void exchangeEnded(ExchangeRecord r) {
            String g = r.group() == null ? "" : r.group();
            String t = r.target() == null ? "" : r.target();
            int cls = r.status() / 100;
            requestPoints(g, t)[cls >= 0 && cls < CODES.length ? cls : 0].inc();
            DistributionDataPoint d = durations.get(g);
            if (d == null) {
                d = durations.computeIfAbsent(g, k -> duration.labelValues(listener, k));
            }
            d.observe((r.endNanos() - r.startNanos()) / 1e9);
            String protocol = r.protocol() == null ? "" : r.protocol();
            CounterDataPoint p = protocols.get(protocol);
            if (p == null) {
                p = protocols.computeIfAbsent(protocol, k -> byProtocol.labelValues(listener, k));
            }
            p.inc();
            in.inc(r.bytesReceived());
            out.inc(r.bytesSent());
        }

        @Override
        public boolean keepsRecords() {
            return false;
        }

        private CounterDataPoint[] requestPoints(String g, String t) {
            Map<String, CounterDataPoint[]> targets = requestPoints.get(g);
            if (targets == null) {
                targets = requestPoints.computeIfAbsent(g, k -> new ConcurrentHashMap<>());
            }
            CounterDataPoint[] p = targets.get(t);
            if (p == null) {
                p = targets.computeIfAbsent(t, k -> {
                    CounterDataPoint[] a = new CounterDataPoint[CODES.length];
                    for (int i = 0; i < a.length; i++) {
                        a[i] = requests.labelValues(listener, g, k, CODES[i]);
                    }
                    return a;
                });
            }
            return p;
        }

        @Override
        public void tunnelClosed(TunnelRecord r) {
            String g = r.group() == null ? "" : r.group();
            CounterDataPoint c = tunnels.get(g);
            if (c == null) {
                c = tunnels.computeIfAbsent(g, k -> tunnelsClosed.labelValues(listener, k));
            }
            c.inc();
            in.inc(r.bytesFromClient());
            out.inc(r.bytesFromTarget());
        }

        @Override
        public void rejected(String listenerName, int status, DesyncClass desyncClass) {
            // Rare: the library's own lookup is enough.
            rejected.labelValues(listener, Integer.toString(status),
                                 desyncClass == null ? "" : desyncClass.name().toLowerCase(java.util.Locale.ROOT))
                    .inc();
        }

        @Override
        public void connectionOpened(String listenerName) {
            accepted.inc();
        }

        @Override
        public void retried(String group, String target) {
            points(group, target).retried.inc();
        }

        @Override
        public void connectFailed(String group, String target) {
            points(group, target).connectFailed.inc();
        }
    }
}
