package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the dashboard reads: traffic per target and listener, state changes, and its own files. */
class OverviewTest {
    private static final String TOKEN = "overview-test-token-0123456789";
    private static final String CHECKS = "health-check { path = \"/health\", interval = 200ms, timeout = 150ms }";

    @TempDir
    Path dir;

    @Test
    void bucketsBoundTheirValuesAndPercentilesFollowTheDistribution() {
        for (long micros : new long[] {1, 2, 3, 5, 7, 100, 999, 1000, 65_537, 1_000_000, 99_000_000}) {
            int i = TrafficStats.bucket(micros);
            assertTrue(TrafficStats.lowerMicros(i) <= micros && micros < TrafficStats.lowerMicros(i + 1),
                       micros + " µs in bucket " + i);
        }
        assertEquals(TrafficStats.BUCKETS - 1, TrafficStats.bucket(Long.MAX_VALUE / 1000));
        long[] h = new long[TrafficStats.BUCKETS];
        for (int ms = 1; ms <= 1000; ms++) { // 1 ms .. 1 s, evenly
            h[TrafficStats.bucket(ms * 1000L)]++;
        }
        double p50 = TrafficStats.percentileMillis(h, 1000, 0.5);
        double p99 = TrafficStats.percentileMillis(h, 1000, 0.99);
        assertTrue(p50 > 500 * 0.75 && p50 < 500 * 1.34, "p50 " + p50);
        assertTrue(p99 > 990 * 0.75 && p99 < 990 * 1.34, "p99 " + p99);
        assertTrue(Double.isNaN(TrafficStats.percentileMillis(new long[TrafficStats.BUCKETS], 0, 0.5)));
    }

    @SuppressWarnings("unchecked")
    @Test
    void overviewCarriesTrafficByStatusClassLatencyAndStateChanges() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address())
                     .replace("admin.bind = ", "admin.token = \"" + TOKEN + "\"\nadmin.bind = "))) {
            f.token = TOKEN;
            OpsFixture.await("a healthy", () -> f.ops.balancer().targetGroups().get("app").snapshot().byId(a.address())
                    .state().label().equals("healthy"));
            // Requests in two sample intervals at least, so that the latest one surely has some.
            long until = System.nanoTime() + Duration.ofSeconds(TrafficStats.SAMPLE_SECONDS * 2L + 1).toNanos();
            int sent = 0;
            while (System.nanoTime() < until) {
                String path = sent++ % 4 == 0 ? "/status?code=503" : "/x";
                f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).build(), HttpResponse.BodyHandlers.discarding());
            }
            Map<String, Object> o = (Map<String, Object>) Json.parse(f.get("/overview").body());
            assertEquals(List.of("none", "1xx", "2xx", "3xx", "4xx", "5xx"), o.get("status_classes"));
            Map<String, Object> listener = (Map<String, Object>) ((List<?>) o.get("listeners")).get(0);
            assertEquals("web", listener.get("name"));
            assertEquals("127.0.0.1:" + f.port(), listener.get("address"));
            Map<String, Object> lt = (Map<String, Object>) listener.get("traffic");
            assertTrue(((Number) lt.get("requests_per_second")).doubleValue() > 0, lt.toString());

            Map<String, Object> group = (Map<String, Object>) ((List<?>) o.get("target_groups")).get(0);
            Map<String, Object> target = (Map<String, Object>) ((List<?>) group.get("targets")).get(0);
            assertEquals(a.address(), target.get("target"));
            Map<String, Object> t = (Map<String, Object>) target.get("traffic");
            Map<String, Object> perSecond = (Map<String, Object>) t.get("per_second");
            assertTrue(((Number) perSecond.get("2xx")).doubleValue() > 0, perSecond.toString());
            assertTrue(((Number) perSecond.get("5xx")).doubleValue() > 0, perSecond.toString());
            assertEquals(((Number) t.get("latency_requests")).longValue(), (long) sent, "every request timed: " + t);
            double p50 = ((Number) t.get("p50_ms")).doubleValue();
            double p99 = ((Number) t.get("p99_ms")).doubleValue();
            assertTrue(p50 > 0 && p50 <= p99 && p99 < 10_000, t.toString());
            List<?> series = (List<?>) t.get("series");
            assertTrue(series.size() >= 2 && ((List<?>) series.get(0)).size() == 6, series.toString());

            List<Map<String, Object>> changes = (List<Map<String, Object>>) o.get("state_changes");
            assertTrue(changes.stream().anyMatch(c -> c.get("target").equals(a.address())
                                                      && c.get("to").equals("healthy")), changes.toString());

            // The same in the existing API: /targets without the series, /state-changes.
            Map<String, Object> targets = (Map<String, Object>) Json.parse(f.get("/targets").body());
            Map<String, Object> t2 = (Map<String, Object>) ((List<Map<String, Object>>) ((List<Map<String, Object>>)
                    targets.get("target_groups")).get(0).get("targets")).get(0);
            assertNotNull(t2.get("traffic"), t2.toString());
            assertTrue(!((Map<String, Object>) t2.get("traffic")).containsKey("series"), t2.toString());
            assertEquals(0L, t2.get("engine_io_sessions"));
            Map<String, Object> sc = (Map<String, Object>) Json.parse(f.get("/state-changes").body());
            assertTrue(!((List<?>) sc.get("state_changes")).isEmpty(), sc.toString());

            // Deregistered with a request in flight: the target shows its draining progress.
            f.http.sendAsync(HttpRequest.newBuilder(URI.create(f.url("/hang"))).build(),
                             HttpResponse.BodyHandlers.discarding());
            OpsFixture.await("a holds /hang", () -> f.ops.balancer().targetGroups().get("app").snapshot()
                    .byId(a.address()).outstandingRequests() == 1);
            assertEquals(202, f.call("DELETE", "/target-groups/app/targets/" + a.address(), null).statusCode());
            Map<String, Object> after = (Map<String, Object>) Json.parse(f.get("/targets").body());
            Map<String, Object> drained = (Map<String, Object>) ((List<Map<String, Object>>) ((List<Map<String, Object>>)
                    after.get("target_groups")).get(0).get("targets")).get(0);
            Map<String, Object> draining = (Map<String, Object>) drained.get("draining");
            assertNotNull(draining, drained.toString());
            assertEquals(1L, draining.get("outstanding_requests"));
            assertEquals(30.0, draining.get("deregistration_delay_seconds"));
        }
    }

    @Test
    void withoutATokenOnlyRequestsAddressedByIpAreAnswered() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address()))) {
            int port = f.ops.adminAddress().getPort();
            assertTrue(raw(port, "127.0.0.1:" + port).startsWith("HTTP/1.1 200"));
            assertTrue(raw(port, "localhost:" + port).startsWith("HTTP/1.1 200"));
            // A rebound name: another site's page would be same-origin with it.
            String rebound = raw(port, "attacker.example:" + port);
            assertTrue(rebound.startsWith("HTTP/1.1 421"), rebound);
        }
    }

    private static String raw(int port, String host) throws java.io.IOException {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /overview HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                                              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void pageIsServedWithoutTheTokenButDataAndChangesNeedIt() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address())
                     .replace("admin.bind = ", "admin.token = \"" + TOKEN + "\"\nadmin.bind = "))) {
            HttpResponse<String> page = f.get("/");
            assertEquals(200, page.statusCode());
            assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
            assertTrue(page.headers().firstValue("content-security-policy").orElse("").contains("default-src 'none'"));
            assertTrue(page.body().contains("dashboard.js"), page.body());
            assertEquals(200, f.get("/dashboard.js").statusCode());
            assertEquals(200, f.get("/dashboard.css").statusCode());
            HttpResponse<String> head = f.call("HEAD", "/", null);
            assertEquals(200, head.statusCode());
            assertEquals(String.valueOf(page.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length),
                         head.headers().firstValue("content-length").orElse(""));
            assertEquals(401, f.get("/overview").statusCode());
            assertEquals(401, f.get("/state-changes").statusCode());

            f.token = TOKEN;
            assertEquals(200, f.get("/overview").statusCode());
            // Another site's page posting through the operator's browser is refused, token or not.
            HttpResponse<String> cross = f.http.send(HttpRequest.newBuilder(URI.create(f.admin("/target-groups/app/targets")))
                    .header("Authorization", "Bearer " + TOKEN).header("Origin", "http://evil.example")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"target\":\"127.0.0.1:9\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(403, cross.statusCode(), cross.body());
            HttpResponse<String> same = f.http.send(HttpRequest.newBuilder(URI.create(f.admin("/target-groups/app/targets")))
                    .header("Authorization", "Bearer " + TOKEN)
                    .header("Origin", "http://127.0.0.1:" + f.ops.adminAddress().getPort())
                    .POST(HttpRequest.BodyPublishers.ofString("{\"target\":\"127.0.0.1:9\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(201, same.statusCode(), same.body());
        }
    }
}
