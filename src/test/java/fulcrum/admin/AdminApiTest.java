package fulcrum.admin;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.SettingsException;
import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdminApiTest {
    private static final String CHECKS = "health-check { path = \"/health\", interval = 200ms, timeout = 150ms }";

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> targets(OpsFixture f, String group) {
        HttpResponse<String> r = f.get("/targets");
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> root = (Map<String, Object>) Json.parse(r.body());
        for (Object g : (List<Object>) root.get("target_groups")) {
            Map<String, Object> m = (Map<String, Object>) g;
            if (m.get("name").equals(group)) {
                return (List<Map<String, Object>>) (List<?>) m.get("targets");
            }
        }
        throw new AssertionError("no group " + group + " in " + r.body());
    }

    private static String state(OpsFixture f, String group, String target) {
        for (Map<String, Object> t : targets(f, group)) {
            if (t.get("target").equals(target)) {
                return (String) t.get("state");
            }
        }
        return null;
    }

    @Test
    void targetsShowStateReasonAndCounters() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address()))) {
            OpsFixture.await("a healthy", () -> "healthy".equals(state(f, "app", a.address())));
            f.http.send(HttpRequest.newBuilder(URI.create(f.url("/x"))).build(), HttpResponse.BodyHandlers.ofString());
            Map<String, Object> t = targets(f, "app").get(0);
            assertEquals("status 200", t.get("reason"));
            assertEquals(1L, t.get("requests_served"));
            assertTrue(t.containsKey("since") && t.containsKey("open_connections") && t.containsKey("tunnels"), t.toString());
            assertEquals(200, f.get("/healthz").statusCode());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void targetsShowTheLatestCheckWhenItsReasonChangesButTheStateDoesNot() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address()))) {
            OpsFixture.await("a healthy", () -> "healthy".equals(state(f, "app", a.address())));
            Map<String, Object> healthy = targets(f, "app").get(0);
            Map<String, Object> passed = (Map<String, Object>) healthy.get("last_check");
            assertEquals(true, passed.get("passed"), healthy.toString());
            assertEquals("status 200", passed.get("reason"));

            a.healthStatus(500);
            OpsFixture.await("a unhealthy", () -> "unhealthy".equals(state(f, "app", a.address())));
            a.healthStatus(503);
            OpsFixture.await("a check fails on 503", () -> "status 503 not in 200".equals(
                    ((Map<String, Object>) targets(f, "app").get(0).get("last_check")).get("reason")));
            Map<String, Object> t = targets(f, "app").get(0);
            assertEquals("unhealthy", t.get("state"));
            assertEquals("status 500 not in 200", t.get("reason"), "the state's reason is that of its change");
            Map<String, Object> check = (Map<String, Object>) t.get("last_check");
            assertEquals(false, check.get("passed"), t.toString());
            Instant at = Instant.parse((String) check.get("at"));
            assertTrue(at.isAfter(Instant.parse((String) t.get("since"))), t.toString());

            String overview = f.get("/overview").body();
            assertTrue(overview.contains("\"reason\":\"status 500 not in 200\"")
                       && overview.contains("\"last_check\":{\"passed\":false,\"reason\":\"status 503 not in 200\""),
                       overview);
        }
    }

    @Test
    void registerAndDeregisterUnderLoadFailNoRequest() throws Exception {
        try (HttpBackend a = HttpBackend.start("a"); HttpBackend b = HttpBackend.start("b");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS + "\nderegistration-delay = 1s",
                                                                     a.address()))) {
            OpsFixture.await("a healthy", () -> "healthy".equals(state(f, "app", a.address())));
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger ok = new AtomicInteger();
            List<String> failures = new CopyOnWriteArrayList<>();
            Map<String, AtomicInteger> byBackend = new ConcurrentHashMap<>();
            ExecutorService load = Executors.newFixedThreadPool(2);
            for (int i = 0; i < 2; i++) {
                load.execute(() -> {
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15); // bound, whatever happens
                    while (running.get() && System.nanoTime() < end) {
                        try {
                            HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/x")))
                                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() == 200) {
                                ok.incrementAndGet();
                                byBackend.computeIfAbsent(r.body(), k -> new AtomicInteger()).incrementAndGet();
                            } else {
                                failures.add(r.statusCode() + " " + r.body());
                            }
                        } catch (Exception e) {
                            failures.add(e.toString());
                        }
                    }
                });
            }
            HttpResponse<String> reg = f.call("POST", "/target-groups/app/targets",
                                              "{\"target\":\"" + b.address() + "\"}");
            assertEquals(201, reg.statusCode(), reg.body());
            assertTrue(reg.body().contains("\"state\":\"initial\""), reg.body());
            OpsFixture.await("b serves", () -> byBackend.containsKey("b"));
            OpsFixture.await("b healthy", () -> "healthy".equals(state(f, "app", b.address())));
            HttpResponse<String> dereg = f.call("DELETE", "/target-groups/app/targets/" + a.address(), null);
            assertEquals(202, dereg.statusCode(), dereg.body());
            assertEquals("draining", state(f, "app", a.address()));
            OpsFixture.await("a removed", () -> state(f, "app", a.address()) == null);
            int aBefore = byBackend.get("a").get();
            Thread.sleep(300);
            running.set(false);
            load.shutdown();
            assertTrue(load.awaitTermination(20, TimeUnit.SECONDS));
            assertEquals(List.of(), failures);
            assertEquals(aBefore, byBackend.get("a").get(), "requests went to a after it was removed");
            assertTrue(ok.get() > 20, "requests: " + ok.get());
        }
    }

    @Test
    void badInputIsRefusedAndChangesNothing() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address()))) {
            String before = targets(f, "app").toString().replaceAll("since=[^,]*,", "");
            assertError(f.call("POST", "/target-groups/nope/targets", "{\"target\":\"127.0.0.1:1\"}"), 404, "nope");
            assertError(f.call("POST", "/target-groups/app/targets", "{\"target\":\"127.0.0.1\"}"), 400, "no port");
            assertError(f.call("POST", "/target-groups/app/targets", "{\"target\":\"127.0.0.1:0\"}"), 400, "port 0");
            assertError(f.call("POST", "/target-groups/app/targets", "{\"target\":\"" + a.address() + "\"}"), 409,
                        "already registered");
            assertError(f.call("POST", "/target-groups/app/targets", "{\"target\":"), 400, "malformed JSON");
            assertError(f.call("POST", "/target-groups/app/targets", "{\"addr\":\"127.0.0.1:1\"}"), 400, "addr");
            assertError(f.call("DELETE", "/target-groups/app/targets/127.0.0.1:1", null), 404, "not registered");
            assertError(f.call("DELETE", "/target-groups/app/targets/x", null), 400, "no port");
            assertError(f.call("GET", "/nothing", null), 404, "/nothing");
            assertError(f.call("POST", "/targets", ""), 405, "POST");
            assertEquals(before, targets(f, "app").toString().replaceAll("since=[^,]*,", ""));
        }
    }

    private static void assertError(HttpResponse<String> r, int status, String mentions) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        Object error = ((Map<?, ?>) Json.parse(r.body())).get("error");
        assertTrue(error instanceof String s && s.contains(mentions), r.body());
    }

    @Test
    void tokenIsRequiredWhenSet() throws Exception {
        String token = "s3cret-token-0123456789";
        String conf = OpsFixture.config("health-check.enabled = false", "127.0.0.1:1")
                .replace("admin.bind = \"127.0.0.1:0\"", "admin { bind = \"127.0.0.1:0\", token = \"" + token + "\" }");
        try (OpsFixture f = OpsFixture.start(dir, conf)) {
            assertEquals(401, f.get("/targets").statusCode());
            assertEquals(401, f.get("/healthz").statusCode());
            f.token = "wrong";
            assertEquals(401, f.get("/targets").statusCode());
            f.token = token + "x";
            assertEquals(401, f.get("/metrics").statusCode());
            f.token = token;
            assertEquals(200, f.get("/targets").statusCode());
            assertEquals(200, f.get("/metrics").statusCode());
        }
    }

    @Test
    void nonLoopbackBindWithoutTokenIsRefusedAtStart() {
        String conf = OpsFixture.config("", "127.0.0.1:1").replace("admin.bind = \"127.0.0.1:0\"",
                                                                    "admin.bind = \"0.0.0.0:9090\"");
        SettingsException e = assertThrows(SettingsException.class,
                                           () -> FulcrumSettings.from(ConfigFactory.parseString(conf)));
        assertTrue(e.getMessage().startsWith("fulcrum.admin.token: null (expected: a token"), e.getMessage());
        // With a token, the same bind is accepted.
        FulcrumSettings.from(ConfigFactory.parseString(conf.replace("admin.bind = \"0.0.0.0:9090\"",
                "admin { bind = \"0.0.0.0:9090\", token = \"0123456789abcdef\" }")));
    }
}
