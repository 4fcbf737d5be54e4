package fulcrum.health;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.HostPort;
import fulcrum.config.TargetSpec;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static fulcrum.balance.HealthState.HEALTHY;
import static fulcrum.balance.HealthState.UNHEALTHY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real backends behind a real balancer with fast checks. */
class HealthCheckIntegrationTest {
    private static final int INTERVAL_MS = 200;
    private static final int TIMEOUT_MS = 150;
    private static final int THRESHOLD = 2;
    private static final String FAST = "health-check { path = /health, interval = " + INTERVAL_MS + "ms, timeout = "
                                       + TIMEOUT_MS + "ms, healthy-threshold = " + THRESHOLD
                                       + ", unhealthy-threshold = " + THRESHOLD + " }";

    @Test
    void targetAnswering500IsTakenOutWhileTheOtherServesEverything() throws Exception {
        try (HttpBackend sick = HttpBackend.start("sick"); HttpBackend well = HttpBackend.start("well")) {
            sick.healthStatus(500);
            try (FulcrumFixture f = FulcrumFixture.forTargets(FAST, sick.address(), well.address())) {
                List<String> changes = transitions(f);
                Target t = target(f, sick);
                await(() -> t.state() == UNHEALTHY, 3000, "sick target unhealthy");
                assertEquals("status 500 not in 200", t.reason());
                await(() -> target(f, well).state() == HEALTHY, 3000, "well target healthy");
                try (RawClient c = new RawClient(f.port())) {
                    for (int i = 0; i < 20; i++) {
                        RawClient.Response r = c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").read();
                        assertEquals(200, r.status());
                        assertEquals("well", r.body());
                    }
                }
                assertEquals(0, sick.requests());
                // Several more failed probes: still one change, logged once.
                int checks = sick.healthChecks();
                await(() -> sick.healthChecks() >= checks + 3, 3000, "more probes");
                assertEquals(List.of(sick.address() + " initial->unhealthy (status 500 not in 200)"),
                             changes.stream().filter(s -> s.startsWith(sick.address())).toList());
            }
        }
    }

    @Test
    void targetThatHangsOnItsHealthCheckIsCaughtByTheTimeout() throws Exception {
        try (ScriptedServer hung = ScriptedServer.hanging(); HttpBackend well = HttpBackend.start("well");
             FulcrumFixture f = FulcrumFixture.forTargets(FAST, hung.address(), well.address())) {
            Target t = f.balancer().targetGroups().get("app").snapshot().byId(hung.address());
            await(() -> t.state() == UNHEALTHY, 3000, "hung target unhealthy");
            assertEquals("timeout after 150ms", t.reason());
            assertTrue(hung.requests().get(0).startsWith("GET /health HTTP/1.1\r\n"), hung.requests().get(0));
            assertEquals(HEALTHY, target(f, well).state());
            try (RawClient c = new RawClient(f.port())) {
                for (int i = 0; i < 10; i++) {
                    assertEquals("well", c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").read().body());
                }
            }
        }
    }

    @Test
    void backendStoppedUnderLoadCostsNoRequestAndComesBackAfterHealthyThresholdProbes() throws Exception {
        try (HttpBackend a = HttpBackend.start("a"); HttpBackend b = HttpBackend.start("b");
             FulcrumFixture f = FulcrumFixture.forTargets(FAST, a.address(), b.address())) {
            Target ta = target(f, a);
            await(() -> ta.state() == HEALTHY && target(f, b).state() == HEALTHY, 3000, "both healthy");
            // Health checks of a seen at each of its transitions.
            Map<HealthState, Integer> checksAt = new ConcurrentHashMap<>();
            f.balancer().targetGroups().get("app").addListener((g, t, from, to, reason) -> {
                if (t == ta) {
                    checksAt.put(to, a.healthChecks());
                }
            });

            List<String> failures = new CopyOnWriteArrayList<>();
            Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
            AtomicBoolean running = new AtomicBoolean(true);
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Thread th = new Thread(() -> load(f, running, failures, servedBy), "client-" + i);
                th.start();
                clients.add(th);
            }
            try {
                Thread.sleep(1000);
                long stopped = System.nanoTime();
                a.stop();
                await(() -> ta.state() == UNHEALTHY, 5000, "stopped target unhealthy");
                long tookMs = (System.nanoTime() - stopped) / 1_000_000;
                long bound = THRESHOLD * (INTERVAL_MS * 11L / 10 + TIMEOUT_MS) + 1000; // slack for a busy machine
                assertTrue(tookMs <= bound, "unhealthy after " + tookMs + " ms; bound " + bound + " ms");

                Thread.sleep(300);
                int checksBeforeRestart = a.healthChecks();
                int requestsBeforeRestart = a.requests();
                a.restart();
                await(() -> ta.state() == HEALTHY, 5000, "restarted target healthy");
                // Listeners hear of a transition after the state is set: wait for ours too.
                await(() -> checksAt.containsKey(HEALTHY), 5000, "the transition to healthy heard");
                assertTrue(checksAt.get(HEALTHY) - checksBeforeRestart >= THRESHOLD,
                           "healthy after " + (checksAt.get(HEALTHY) - checksBeforeRestart) + " probes");
                await(() -> a.requests() > requestsBeforeRestart, 3000, "restarted target gets traffic");
                Thread.sleep(700);
            } finally {
                running.set(false);
                for (Thread th : clients) {
                    th.join(10_000);
                }
            }
            System.out.println("served: " + servedBy + ", failed: " + failures.size() + ", cut by a: " + a.cutResponses());
            // A response whose head a already sent when it stopped cannot be completed by anyone:
            // the client must see it cut short, never complete. Every other request is served.
            for (String failure : failures) {
                assertTrue(failure.contains("fixed content-length: 1, bytes received: 0"), failure);
            }
            assertTrue(failures.size() <= a.cutResponses(),
                       failures.size() + " failed, " + a.cutResponses() + " cut by the stopped target: " + failures);
            assertTrue(servedBy.get("a").get() > 0 && servedBy.get("b").get() > 0, servedBy.toString());
        }
    }

    private static void load(FulcrumFixture f, AtomicBoolean running, List<String> failures,
                             Map<String, AtomicInteger> servedBy) {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                                      .connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(f.url("/"))).timeout(Duration.ofSeconds(10)).build();
        while (running.get()) {
            try {
                HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) {
                    failures.add("status " + r.statusCode() + ": " + r.body());
                } else {
                    servedBy.computeIfAbsent(r.body(), k -> new AtomicInteger()).incrementAndGet();
                }
            } catch (IOException e) {
                failures.add(e.toString());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Test
    void stickyClientWhoseTargetDiesMovesToTheOtherWithANewCookie() throws Exception {
        try (HttpBackend a = HttpBackend.start("a"); HttpBackend b = HttpBackend.start("b");
             FulcrumFixture f = FulcrumFixture.forTargets(FAST + "\nstickiness.enabled = true", a.address(),
                                                          b.address())) {
            await(() -> target(f, a).state() == HEALTHY && target(f, b).state() == HEALTHY, 3000, "both healthy");
            try (RawClient c = new RawClient(f.port())) {
                RawClient.Response first = c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").read();
                String cookie = cookie(first);
                String stuckTo = first.body();
                for (int i = 0; i < 3; i++) {
                    RawClient.Response r = c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n").read();
                    assertEquals(stuckTo, r.body());
                }
                HttpBackend dead = stuckTo.equals("a") ? a : b;
                String other = stuckTo.equals("a") ? "b" : "a";
                dead.stop();

                RawClient.Response moved = c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n").read();
                assertEquals(200, moved.status());
                assertEquals(other, moved.body());
                String newCookie = cookie(moved);
                assertNotEquals(cookie, newCookie);
                for (int i = 0; i < 5; i++) {
                    RawClient.Response r = c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + newCookie + "\r\n\r\n")
                                            .read();
                    assertEquals(200, r.status());
                    assertEquals(other, r.body());
                }
            }
        }
    }

    @Test
    void failedConnectsFromLiveTrafficTakeATargetOutBetweenProbes() throws Exception {
        String slow = "health-check { path = /health, interval = 1h, timeout = 150ms, unhealthy-threshold = "
                      + THRESHOLD + " }";
        try (HttpBackend a = HttpBackend.start("a"); HttpBackend b = HttpBackend.start("b");
             FulcrumFixture f = FulcrumFixture.forTargets(slow, a.address(), b.address())) {
            Target ta = target(f, a);
            await(() -> ta.state() == HEALTHY && target(f, b).state() == HEALTHY, 3000, "both healthy");
            assertEquals(1, a.healthChecks());
            a.stop();
            try (RawClient c = new RawClient(f.port())) {
                for (int i = 0; i < 20 && ta.state() != UNHEALTHY; i++) {
                    RawClient.Response r = c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").read();
                    assertEquals(200, r.status());
                    assertEquals("b", r.body());
                }
            }
            // The state changes on the target's loop, just after the failure is reported.
            await(() -> ta.state() == UNHEALTHY, 2000, "target unhealthy from live traffic");
            assertEquals("live traffic: connection refused", ta.reason());
            assertEquals(1, a.healthChecks());
        }
    }

    @Test
    void targetsRegisteredAtRuntimeAreProbedAtOnceAndRemovedOnesNoLonger() throws Exception {
        try (HttpBackend a = HttpBackend.start("a"); HttpBackend late = HttpBackend.start("late")) {
            FulcrumFixture f = FulcrumFixture.forTargets(FAST, a.address());
            try {
                TargetGroup g = f.balancer().targetGroups().get("app");
                Target t = g.register(new TargetSpec(HostPort.parse(late.address()), 1));
                await(() -> t.state() == HEALTHY, 2000, "registered target healthy");
                g.remove(t);
                Thread.sleep(INTERVAL_MS); // a probe in flight at removal may still land
                int checks = late.healthChecks();
                Thread.sleep(INTERVAL_MS * 4L);
                assertEquals(checks, late.healthChecks(), "probes after removal");
            } finally {
                f.close();
            }
            Thread.sleep(INTERVAL_MS);
            int checks = a.healthChecks();
            Thread.sleep(INTERVAL_MS * 3L);
            assertEquals(checks, a.healthChecks(), "probes after the balancer stopped");
        }
    }

    // ---- helpers ----

    private static Target target(FulcrumFixture f, HttpBackend b) {
        Target t = f.balancer().targetGroups().get("app").snapshot().byId(b.address());
        assertNotNull(t, b.address());
        return t;
    }

    private static List<String> transitions(FulcrumFixture f) {
        List<String> out = new CopyOnWriteArrayList<>();
        f.balancer().targetGroups().get("app").addListener((g, t, from, to, reason) ->
                out.add(t + " " + from.label() + "->" + to.label() + " (" + reason + ")"));
        return out;
    }

    private static String cookie(RawClient.Response r) {
        String set = r.header("Set-Cookie");
        assertNotNull(set, r.head());
        return set.substring(0, set.indexOf(';'));
    }

    private static void await(BooleanSupplier condition, long ms, String what) throws InterruptedException {
        long deadline = System.nanoTime() + ms * 1_000_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + ms + " ms: " + what);
            }
            Thread.sleep(10);
        }
    }
}
