package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import fulcrum.socketio.ChatClients;
import fulcrum.socketio.ChatCluster;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard in real headless Chromium (Debian's, through playwright-core), against a real
 * balancer and real backends: without the token it shows only the token form and offers no
 * action; with it, it renders the listener and the targets with traffic; it shows a target that
 * died as unhealthy, the latest check's reason when it differs from the state's, and healthy
 * again once it is back, within seconds; registering and
 * deregistering from the page work. The driver is {@code src/test/browser/dashboard.js};
 * screenshots go to {@code target/dashboard/}.
 */
@Timeout(240)
class DashboardBrowserTest {
    private static final String TOKEN = "dashboard-test-token-0123456789";
    private static final String CHECKS = "health-check { path = \"/health\", interval = 200ms, timeout = 150ms,"
                                         + " healthy-threshold = 2, unhealthy-threshold = 2 }\n"
                                         + "deregistration-delay = 30s";
    /** Generous: the machine is shared; health checks need ~0.5 s and the page polls every 2 s. */
    private static final long SHOWN_WITHIN_MS = 15_000;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private DashboardDriver driver;

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
        }
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // the next one is closed anyway
            }
        }
    }

    private <T extends AutoCloseable> T closing(T c) {
        open.add(c);
        return c;
    }

    @Test
    void showsTargetsFollowsTheirHealthAndActsOnlyWithTheToken() throws Exception {
        String missing = DashboardDriver.missingPrerequisite();
        assumeTrue(missing == null, () -> "browser test skipped: " + missing);
        HttpBackend a = closing(HttpBackend.start("a"));
        HttpBackend b = closing(HttpBackend.start("b"));
        HttpBackend c = closing(HttpBackend.start("c"));
        String config = OpsFixture.config(CHECKS, a.address(), b.address())
                .replace("admin.bind = ", "admin.token = \"" + TOKEN + "\"\nadmin.bind = ");
        OpsFixture f = closing(OpsFixture.start(dir, config));
        OpsFixture.await("a and b healthy", () -> f.ops.balancer().targetGroups().get("app").snapshot().all()
                .stream().allMatch(t -> t.state().label().equals("healthy")));
        Traffic traffic = closing(new Traffic(f));

        driver = new DashboardDriver(f.admin("/"));
        Map<String, Object> first = driver.send("{\"cmd\":\"open\"}");
        assertEquals("login", first.get("view"), first.toString());
        assertEquals(0L, first.get("actions"), () -> "no action without the token: " + first);
        assertEquals(401, f.get("/overview").statusCode(), "the data needs the token too");
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"1-token-required\"}");

        Map<String, Object> wrong = driver.send("{\"cmd\":\"login\",\"token\":\"not-the-token-0123456789\"}");
        assertEquals("login", wrong.get("view"), wrong.toString());
        assertTrue(wrong.get("status").toString().contains("refused") && wrong.get("actions").equals(0L), wrong.toString());

        Map<String, Object> live = driver.send("{\"cmd\":\"login\",\"token\":\"" + TOKEN + "\"}");
        assertEquals("live", live.get("view"), live.toString());
        assertEquals(3L, live.get("actions"), () -> "two deregister buttons and a register form: " + live);
        driver.send(wait("waitRate", a.address(), null));
        driver.send(wait("waitRate", b.address(), null));
        Map<String, Object> table = driver.send("{\"cmd\":\"table\"}");
        String listeners = table.get("listeners").toString();
        assertTrue(listeners.contains("web") && listeners.contains("http://127.0.0.1:" + f.port()), listeners);
        Map<?, ?> group = (Map<?, ?>) ((List<?>) table.get("groups")).get(0);
        assertEquals("Target group app", group.get("title"));
        assertTrue(group.get("summary").toString().contains("2 healthy"), group.toString());
        List<?> rows = (List<?>) group.get("rows");
        assertEquals(2, rows.size(), rows.toString());
        for (Object row : rows) {
            List<?> cells = (List<?>) row;
            assertTrue(cells.get(1).toString().contains("healthy"), "state as a word: " + cells);
            assertTrue(cells.get(8).toString().contains("2xx"), "status classes: " + cells);
            assertTrue(cells.get(9).toString().endsWith("ms"), "p50: " + cells);
        }
        assertTrue(((Number) group.get("charts")).intValue() >= 2, "a chart per target: " + group);
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"2-live\"}");

        long killed = System.nanoTime();
        a.stop();
        Map<String, Object> down = driver.send(wait("waitState", a.address(), "unhealthy"));
        long downMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        assertTrue(downMs < SHOWN_WITHIN_MS, "shown unhealthy after " + downMs + " ms");
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"3-target-down\"}");

        // Back with a failing health status: still unhealthy for its first reason, the row also
        // shows what the checks say now.
        a.healthStatus(503);
        a.restart();
        Map<String, Object> failing = driver.send("{\"cmd\":\"waitText\",\"group\":\"app\",\"target\":\""
                                                  + a.address() + "\",\"text\":\"latest check failed: status 503 not in 200\"}");
        assertTrue(failing.get("row").toString().contains("unhealthy"), failing.toString());
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"3b-check-reason-changed\"}");

        long restarted = System.nanoTime();
        a.healthStatus(200);
        driver.send(wait("waitState", a.address(), "healthy"));
        long upMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restarted);
        assertTrue(upMs < SHOWN_WITHIN_MS, "shown healthy again after " + upMs + " ms");
        String changes = driver.send("{\"cmd\":\"table\"}").get("changes").toString();
        assertTrue(changes.contains(a.address() + ", healthy → unhealthy")
                   && changes.contains(a.address() + ", unhealthy → healthy"), changes);
        System.out.printf("dashboard: target shown unhealthy %d ms after its server stopped, healthy %d ms after"
                          + " it came back (%s)%n", downMs, upMs, down.get("row"));

        Map<String, Object> registered = driver.send(wait("register", c.address(), null));
        assertTrue(registered.get("message").toString().contains("registered in app"), registered.toString());
        driver.send(wait("waitState", c.address(), "healthy"));

        // A request held by b keeps it draining for the whole delay, with progress to show.
        traffic.holdOn(b);
        Map<String, Object> drained = driver.send(wait("deregister", b.address(), null));
        assertTrue(drained.get("message").toString().contains("deregistered from app"), drained.toString());
        assertTrue(drained.get("row").toString().contains("1 request"), "draining progress: " + drained);
        assertTrue(!drained.get("row").toString().contains("Deregister"), "no second deregister: " + drained);
        assertEquals("draining", f.ops.balancer().targetGroups().get("app").snapshot().byId(b.address())
                .state().label(), "the API did it");
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"4-draining\"}");

        f.ops.stop(java.time.Duration.ZERO);
        Map<String, Object> gone = driver.send("{\"cmd\":\"waitStatus\",\"text\":\"Cannot reach the admin API\"}");
        assertTrue(gone.get("status").toString().contains("showing data from"), gone.toString());
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"5-admin-unreachable\"}");
        assertTrue(driver.pageErrors.isEmpty(), () -> "page errors: " + driver.pageErrors);
    }

    @Test
    void withoutATokenConfiguredTheLoopbackPageOffersActions() throws Exception {
        String missing = DashboardDriver.missingPrerequisite();
        assumeTrue(missing == null, () -> "browser test skipped: " + missing);
        HttpBackend a = closing(HttpBackend.start("a"));
        OpsFixture f = closing(OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address())));
        driver = new DashboardDriver(f.admin("/"));
        Map<String, Object> live = driver.send("{\"cmd\":\"open\"}");
        assertEquals("live", live.get("view"), live.toString());
        assertEquals(2L, live.get("actions"), () -> "a deregister button and a register form: " + live);
        driver.send(wait("waitState", a.address(), "healthy"));
        assertTrue(driver.pageErrors.isEmpty(), () -> "page errors: " + driver.pageErrors);
    }

    @SuppressWarnings("unchecked")
    @Test
    void showsTheEngineIoSessionsAndTunnelsOfRealSocketIoClients() throws Exception {
        String missing = DashboardDriver.missingPrerequisite();
        assumeTrue(missing == null, () -> "browser test skipped: " + missing);
        assumeTrue(Files.isDirectory(DashboardDriver.repoRoot().resolve("docker/chat/node_modules/socket.io")),
                   "docker/chat/node_modules is missing: run scripts/setup-test-deps");
        ChatCluster cluster = closing(ChatCluster.start(2));
        String groupSettings = CHECKS + "\nstickiness { enabled = true, type = engine-io }";
        OpsFixture f = closing(OpsFixture.start(dir, OpsFixture.config(groupSettings, "127.0.0.1:" + cluster.port(0),
                                                                       "127.0.0.1:" + cluster.port(1))));
        OpsFixture.await("both chat servers healthy", () -> f.ops.balancer().targetGroups().get("app").snapshot().all()
                .stream().allMatch(t -> t.state().label().equals("healthy")));
        // Polling first, then the upgrade: each session is learnt from its handshake, then tunnelled.
        ChatClients clients = closing(ChatClients.start(f.url("/"), 4, "default", false, 4));
        assertTrue(clients.awaitReady(Duration.ofSeconds(30)), () -> "clients connected: " + clients.events());
        OpsFixture.await("4 tunnels", () -> f.ops.balancer().targetGroups().get("app").snapshot().all().stream()
                .mapToInt(fulcrum.balance.Target::tunnels).sum() == 4);

        Map<String, Object> o = (Map<String, Object>) Json.parse(f.get("/overview").body());
        Map<String, Object> group = (Map<String, Object>) ((List<?>) o.get("target_groups")).get(0);
        long sessions = 0;
        long tunnels = 0;
        for (Object t : (List<?>) group.get("targets")) {
            sessions += (Long) ((Map<String, Object>) t).get("engine_io_sessions");
            tunnels += (Long) ((Map<String, Object>) t).get("tunnels");
        }
        assertEquals(4, sessions, group.toString());
        assertEquals(4, tunnels, group.toString());

        driver = new DashboardDriver(f.admin("/"));
        assertEquals("live", driver.send("{\"cmd\":\"open\"}").get("view"));
        Map<String, Object> table = driver.send("{\"cmd\":\"table\"}");
        List<?> rows = (List<?>) ((Map<?, ?>) ((List<?>) table.get("groups")).get(0)).get("rows");
        int shownSessions = 0;
        int shownTunnels = 0;
        for (Object row : rows) {
            List<?> cells = (List<?>) row;
            shownTunnels += Integer.parseInt(cells.get(5).toString());
            shownSessions += Integer.parseInt(cells.get(6).toString());
        }
        assertEquals(4, shownTunnels, rows.toString());
        assertEquals(4, shownSessions, rows.toString());
        assertTrue(((Map<?, ?>) ((List<?>) table.get("groups")).get(0)).get("summary").toString()
                           .contains("stickiness engine-io"), table.toString());
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"6-socket-io\"}");
        assertTrue(driver.pageErrors.isEmpty(), () -> "page errors: " + driver.pageErrors);
    }

    private static String wait(String cmd, String target, String state) {
        return "{\"cmd\":\"" + cmd + "\",\"group\":\"app\",\"target\":\"" + target + "\""
               + (state == null ? "" : ",\"state\":\"" + state + "\"") + "}";
    }

    /** Requests through the balancer, a few a second, until closed; and requests held by a target. */
    private static final class Traffic implements AutoCloseable {
        private final OpsFixture f;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;
        private final List<CompletableFuture<?>> held = new CopyOnWriteArrayList<>();

        Traffic(OpsFixture f) {
            this.f = f;
            this.thread = new Thread(() -> {
                int i = 0;
                while (running.get()) {
                    String path = i++ % 5 == 0 ? "/status?code=404" : "/x";
                    try {
                        f.http.send(HttpRequest.newBuilder(URI.create(f.url(path))).build(),
                                    HttpResponse.BodyHandlers.discarding());
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        return;
                    } catch (IOException e) {
                        // a target just died: the next request goes elsewhere
                    }
                }
            }, "dashboard-traffic");
            thread.setDaemon(true);
            thread.start();
        }

        /** Stops the steady requests, then sends /hang requests until {@code backend} holds one. */
        void holdOn(HttpBackend backend) throws InterruptedException {
            stopSending();
            fulcrum.balance.Target t = f.ops.balancer().targetGroups().get("app").snapshot().byId(backend.address());
            for (int i = 0; i < 10 && t.outstandingRequests() == 0; i++) {
                held.add(f.http.sendAsync(HttpRequest.newBuilder(URI.create(f.url("/hang"))).build(),
                                          HttpResponse.BodyHandlers.discarding()));
                Thread.sleep(300);
            }
            assertTrue(t.outstandingRequests() > 0, "a /hang request reached " + backend.name());
        }

        private void stopSending() throws InterruptedException {
            running.set(false);
            thread.interrupt();
            thread.join(5000);
        }

        @Override
        public void close() throws InterruptedException {
            stopSending();
            held.forEach(h -> h.cancel(true));
        }
    }
}
