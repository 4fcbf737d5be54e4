package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard in real headless Chromium (Debian's, through playwright-core), against a real
 * balancer and real backends: without the token it shows only the token form and offers no
 * action; with it, it renders the listener and the targets with traffic; it shows a target that
 * died as unhealthy, and healthy again once it is back, within seconds; registering and
 * deregistering from the page work. The driver is {@code src/test/browser/dashboard.js};
 * screenshots go to {@code target/dashboard/}.
 */
@Timeout(240)
class DashboardBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final String TOKEN = "dashboard-test-token-0123456789";
    private static final String CHECKS = "health-check { path = \"/health\", interval = 200ms, timeout = 150ms,"
                                         + " healthy-threshold = 2, unhealthy-threshold = 2 }\n"
                                         + "deregistration-delay = 30s";
    /** Generous: the machine is shared; health checks need ~0.5 s and the page polls every 2 s. */
    private static final long SHOWN_WITHIN_MS = 15_000;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private Driver driver;

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
        String missing = missingPrerequisite();
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

        driver = new Driver(f.admin("/"));
        Map<String, Object> first = driver.send("{\"cmd\":\"open\"}");
        assertEquals("login", first.get("view"), first.toString());
        assertEquals(0L, first.get("actions"), () -> "no action without the token: " + first);
        assertEquals(401, f.get("/overview").statusCode(), "the data needs the token too");
        driver.send("{\"cmd\":\"screenshot\",\"name\":\"1-token-required\"}");

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

        long restarted = System.nanoTime();
        a.restart();
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
        assertTrue(driver.pageErrors.isEmpty(), () -> "page errors: " + driver.pageErrors);
    }

    @Test
    void withoutATokenConfiguredTheLoopbackPageOffersActions() throws Exception {
        String missing = missingPrerequisite();
        assumeTrue(missing == null, () -> "browser test skipped: " + missing);
        HttpBackend a = closing(HttpBackend.start("a"));
        OpsFixture f = closing(OpsFixture.start(dir, OpsFixture.config(CHECKS, a.address())));
        driver = new Driver(f.admin("/"));
        Map<String, Object> live = driver.send("{\"cmd\":\"open\"}");
        assertEquals("live", live.get("view"), live.toString());
        assertEquals(2L, live.get("actions"), () -> "a deregister button and a register form: " + live);
        driver.send(wait("waitState", a.address(), "healthy"));
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

    /** The node driver: one JSON command in, one JSON reply out. */
    private static final class Driver implements AutoCloseable {
        private final Process process;
        private final Writer in;
        private final BlockingQueue<Map<String, Object>> replies = new LinkedBlockingQueue<>();
        private final List<String> pageErrors = new CopyOnWriteArrayList<>();
        private final Path log;

        Driver(String url) throws IOException {
            Path out = repoRoot().resolve("target/dashboard");
            Files.createDirectories(out);
            log = out.resolve("driver.log");
            process = new ProcessBuilder("node", "dashboard.js", "--url", url, "--out", out.toString(),
                                         "--chromium", CHROMIUM.toString())
                    .directory(repoRoot().resolve("src/test/browser").toFile())
                    .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(this::read, "dashboard-driver");
            reader.setDaemon(true);
            reader.start();
        }

        @SuppressWarnings("unchecked")
        private void read() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                             StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Files.writeString(log, line + "\n", StandardCharsets.UTF_8,
                                      java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                    if (!line.startsWith("{")) {
                        continue;
                    }
                    Map<String, Object> event = (Map<String, Object>) Json.parse(line);
                    if ("reply".equals(event.get("event"))) {
                        replies.add(event);
                    } else if ("pageerror".equals(event.get("event"))) {
                        pageErrors.add(String.valueOf(event.get("message")));
                    }
                }
            } catch (IOException | RuntimeException e) {
                replies.add(Map.of("ok", false, "error", "driver output: " + e));
            }
        }

        /** Sends {@code command} and returns its reply; fails the test when the command failed. */
        Map<String, Object> send(String command) throws Exception {
            in.write(command + "\n");
            in.flush();
            Map<String, Object> reply = replies.poll(90, TimeUnit.SECONDS);
            assertTrue(reply != null, () -> "no reply to " + command + " (see " + log + ")");
            assertEquals(Boolean.TRUE, reply.get("ok"), () -> command + " failed: " + reply + " (see " + log + ")");
            return reply;
        }

        @Override
        public void close() {
            try {
                in.write("{\"cmd\":\"quit\"}\n");
                in.close();
            } catch (IOException e) {
                // already gone
            }
            try {
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Path repoRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        throw new IllegalStateException("no pom.xml above the working directory");
    }

    /** Why the browser test cannot run here, or null when it can. */
    private static String missingPrerequisite() {
        if (!Files.isExecutable(CHROMIUM)) {
            return CHROMIUM + " is missing (Debian's chromium package): run scripts/setup-test-deps";
        }
        Path playwright = repoRoot().resolve("src/test/browser/node_modules/playwright-core");
        if (!Files.isDirectory(playwright)) {
            return playwright + " is missing: run scripts/setup-test-deps";
        }
        return null;
    }
}
