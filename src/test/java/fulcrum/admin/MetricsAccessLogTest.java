package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsAccessLogTest {
    @TempDir
    Path dir;

    /** One sample of the text format: name{labels} value. */
    private record Sample(String name, Map<String, String> labels, double value) {
    }

    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    /**
     * A strict reader of the Prometheus text format (the client library has no parser): every line
     * is a HELP or TYPE comment or a sample, every sample belongs to a declared family, labels are
     * well formed.
     */
    private static List<Sample> parse(String text) {
        List<Sample> out = new java.util.ArrayList<>();
        java.util.Set<String> families = new java.util.HashSet<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ");
                assertEquals(4, p.length, line);
                assertTrue(List.of("counter", "gauge", "histogram", "summary", "untyped", "info", "stateset",
                                   "unknown").contains(p[3]), line);
                families.add(p[2]);
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a sample: " + line);
            String name = m.group(1);
            assertTrue(families.stream().anyMatch(f -> name.equals(f) || name.startsWith(f + "_")),
                       "sample of no declared family: " + line);
            Map<String, String> labels = new HashMap<>();
            if (m.group(3) != null && !m.group(3).isEmpty()) {
                Matcher l = LABEL.matcher(m.group(3));
                int end = 0;
                while (l.find() && l.start() == end) {
                    labels.put(l.group(1), l.group(2));
                    end = l.end();
                }
                assertEquals(m.group(3).length(), end, "bad labels: " + line);
            }
            out.add(new Sample(name, labels, Double.parseDouble(m.group(4).replace("+Inf", "Infinity")
                                                                   .replace("-Inf", "-Infinity"))));
        }
        return out;
    }

    private static double sum(List<Sample> samples, String name, Map<String, String> match) {
        double s = 0;
        for (Sample x : samples) {
            if (x.name().equals(name) && x.labels().entrySet().containsAll(match.entrySet())) {
                s += x.value();
            }
        }
        return s;
    }

    @Test
    void metricsCountWhatWasSentAndTheAccessLogHasALinePerRequest() throws Exception {
        Path log = dir.resolve("access.log");
        try (HttpBackend a = HttpBackend.start("a"); OpsFixture f = startLogging(a, log)) {
            awaitHealthy(f);
            for (int i = 0; i < 20; i++) {
                HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/ok/" + i)))
                        .header("User-Agent", "metrics-test").build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
            }
            for (int i = 0; i < 7; i++) {
                HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/status?code=503")))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(503, r.statusCode());
            }
            try (RawClient c = new RawClient(f.port())) {
                // Both Content-Length and Transfer-Encoding: refused by the decoder.
                c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
                assertEquals(400, c.read().status());
            }
            HttpResponse<String> scraped = f.get("/metrics");
            assertEquals(200, scraped.statusCode());
            assertTrue(scraped.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            List<Sample> s = parse(scraped.body());
            Map<String, String> app = Map.of("listener", "web", "target_group", "app");
            assertEquals(20, sum(s, "fulcrum_requests_total", Map.of("target_group", "app", "target", a.address(),
                                                                     "code", "2xx")));
            assertEquals(7, sum(s, "fulcrum_requests_total", Map.of("target_group", "app", "code", "5xx")));
            assertEquals(27, sum(s, "fulcrum_request_duration_seconds_count", app));
            assertEquals(27, sum(s, "fulcrum_request_duration_seconds_bucket", Map.of("target_group", "app",
                                                                                       "le", "+Inf")));
            assertTrue(sum(s, "fulcrum_sent_bytes_total", Map.of("listener", "web")) >= 27);
            assertEquals(1, sum(s, "fulcrum_rejected_requests_total", Map.of("listener", "web", "status", "400")));
            assertEquals(1, sum(s, "fulcrum_healthy_targets", Map.of("target_group", "app")));
            assertEquals(0, sum(s, "fulcrum_unhealthy_targets", Map.of("target_group", "app")));
            assertTrue(sum(s, "fulcrum_health_checks_total", Map.of("target_group", "app", "result", "success")) >= 1);
            assertTrue(sum(s, "fulcrum_client_connections_total", Map.of("listener", "web")) >= 2);
            assertTrue(sum(s, "jvm_threads_current", Map.of()) > 0, "JVM metrics");

            OpsFixture.await("27 access log lines", () -> lines(log).stream()
                    .filter(l -> l.contains("\"type\":\"http\"") && l.contains("\"target_group_arn\":\"app\"")).count() == 27);
            String line = lines(log).stream().filter(l -> l.contains("/ok/3 ")).findFirst().orElseThrow();
            @SuppressWarnings("unchecked")
            Map<String, Object> j = (Map<String, Object>) Json.parse(line);
            assertEquals("GET http://127.0.0.1:" + f.port() + "/ok/3 HTTP/1.1", j.get("request"));
            assertEquals(200L, j.get("elb_status_code"));
            assertEquals(200L, j.get("target_status_code"));
            assertEquals(a.address(), j.get("target:port"));
            assertEquals("metrics-test", j.get("user_agent"));
            assertTrue(((String) j.get("client:port")).startsWith("127.0.0.1:"), line);
            assertTrue(j.get("trace_id") instanceof String id && !id.isEmpty(), line);
            assertEquals(null, j.get("ssl_cipher"));
            assertEquals(33, j.size(), "ALB's fields: " + j.keySet());
        }
    }

    /**
     * The access log's times are the exchange's own, read at the moments they name: a read callback
     * reads the clock once for all it does (LoopClock), the next callback reads it again.
     */
    @Test
    void accessLogTimesFollowTheTargetAndTheResponse() throws Exception {
        Path log = dir.resolve("access.log");
        try (HttpBackend a = HttpBackend.start("a"); OpsFixture f = startLogging(a, log)) {
            awaitHealthy(f);
            long asked = System.currentTimeMillis();
            for (String path : List.of("/slow?ms=400", "/drip?chunks=3&ms=200")) {
                assertEquals(200, f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).build(),
                                              HttpResponse.BodyHandlers.ofString()).statusCode());
            }
            OpsFixture.await("both lines", () -> lines(log).stream().filter(l -> l.contains("/slow?") || l.contains("/drip?"))
                                                           .count() == 2);
            Map<String, Object> slow = line(log, "/slow?");
            double target = (Double) slow.get("target_processing_time");
            assertTrue(target >= 0.39 && target < 5, "the target's 400 ms: " + slow);
            assertTrue((Double) slow.get("request_processing_time") < 0.2, slow.toString());
            assertTrue((Double) slow.get("response_processing_time") < 0.2, slow.toString());
            double wall = (java.time.Instant.parse((String) slow.get("time")).toEpochMilli()
                           - java.time.Instant.parse((String) slow.get("request_creation_time")).toEpochMilli()) / 1000.0;
            assertTrue(wall >= 0.39 && wall < 5, "from the request's arrival to its end: " + wall + " s, " + slow);
            long arrived = java.time.Instant.parse((String) slow.get("request_creation_time")).toEpochMilli() - asked;
            assertTrue(arrived > -50 && arrived < 300, "the request arrived " + arrived + " ms after it was sent");
            Map<String, Object> drip = line(log, "/drip?");
            double response = (Double) drip.get("response_processing_time");
            assertTrue(response >= 0.35 && response < 5, "the body's 3 pieces 200 ms apart: " + drip);
            assertTrue((Double) drip.get("target_processing_time") < 0.2, drip.toString());
        }
    }

    /** Fulcrum in front of {@code a}, health-checked, with a JSON access log in {@code log}. */
    private OpsFixture startLogging(HttpBackend a, Path log) {
        return OpsFixture.start(dir, OpsFixture.config(
                "health-check { path = \"/health\", interval = 200ms, timeout = 150ms }", a.address())
                .replace("admin.bind", "access-log { enabled = true, format = json, file = \""
                                       + log.toString().replace("\\", "/") + "\" }\nadmin.bind"));
    }

    private static void awaitHealthy(OpsFixture f) throws InterruptedException {
        OpsFixture.await("healthy", () -> f.ops.balancer().targetGroups().get("app").snapshot().all().get(0)
                                               .state() == fulcrum.balance.HealthState.HEALTHY);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> line(Path log, String path) {
        return (Map<String, Object>) Json.parse(lines(log).stream().filter(l -> l.contains(path)).findFirst().orElseThrow());
    }

    private static List<String> lines(Path p) {
        try {
            return Files.exists(p) ? Files.readAllLines(p) : List.of();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    @Test
    void albFormatIsAwsEntrySyntaxFieldForField() {
        AccessLogLayout layout = new AccessLogLayout();
        layout.setFormat("alb");
        var conn = new fulcrum.proxy.ConnectionFacts("0a1b2c3d", "10.0.0.1", 443, "TLSv1.3", "TLS_AES_128_GCM_SHA256",
                                                     "chat.example", "CN=chat.example");
        var r = new fulcrum.proxy.ExchangeObserver.ExchangeRecord(
                "web", new java.net.InetSocketAddress("127.0.0.1", 5555), "app", "10.0.0.5:3000", "GET", "/a?b=1",
                "HTTP/1.1", "curl/8 \"x\"", "rid-1", 0L, 1_000_000_000L, 1_001_000_000L, 1_011_000_000L,
                1_012_000_000L, 200, 200, 5, 42, 1, fulcrum.http.DesyncClass.COMPLIANT, conn, "chat.example:443",
                null, null);
        ch.qos.logback.classic.spi.LoggingEvent e = new ch.qos.logback.classic.spi.LoggingEvent();
        e.setMessage(AccessLog.REQUEST);
        e.setArgumentArray(new Object[] {r});
        assertEquals("https 1970-01-01T00:00:00.012000Z web 127.0.0.1:5555 10.0.0.5:3000 0.001 0.010 0.001 200 200 5 "
                     + "42 \"GET https://chat.example:443/a?b=1 HTTP/1.1\" \"curl/8 \\x22x\\x22\" TLS_AES_128_GCM_SHA256 "
                     + "TLSv1.3 app \"rid-1\" \"chat.example\" \"CN=chat.example\" - 1970-01-01T00:00:00.000000Z "
                     + "\"-\" \"-\" \"-\" \"10.0.0.5:3000\" \"200\" \"-\" \"-\" TID_0a1b2c3d \"-\" \"-\" \"-\"\n",
                     layout.doLayout(e));
    }
}
