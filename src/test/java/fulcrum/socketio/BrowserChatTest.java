package fulcrum.socketio;

import fulcrum.proxy.ExchangeObserver;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.TestCerts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Two people chat in real headless Chromium through Fulcrum: each page loads, connects by
 * long-polling, upgrades to WebSocket, and a message sent on each page shows on the other although
 * the two pages are on different chat servers (the Redis adapter carries it). Over HTTPS the
 * browser speaks HTTP/2 and opens the WebSocket as a stream of the page's own connection (RFC
 * 8441). The driver is {@code src/test/browser/chat.js}; screenshots of both pages go to
 * {@code target/browser/}.
 */
@Timeout(180)
class BrowserChatTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final long DRIVER_TIMEOUT_SECONDS = 120;

    @TempDir
    static Path certDir;
    private ChatCluster cluster;
    private FulcrumFixture lb;

    @BeforeEach
    void prerequisites() throws Exception {
        String missing = missingPrerequisite();
        assumeTrue(missing == null, () -> "browser test skipped: " + missing);
        cluster = ChatCluster.start(2);
        lb = FulcrumFixture.forTargets("""
                health-check { path = "/health", interval = 300ms, timeout = 250ms,
                               healthy-threshold = 2, unhealthy-threshold = 2 }
                stickiness { enabled = true, type = lb-cookie-and-engine-io, secret = "browser-test-secret" }
                """, "127.0.0.1:" + cluster.port(0), "127.0.0.1:" + cluster.port(1));
    }

    @AfterEach
    void stop() {
        if (lb != null) {
            lb.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void twoBrowsersOnDifferentServersChatThroughFulcrum() throws Exception {
        chat(lb.url("/"), "http/1.1");
    }

    /**
     * Over HTTPS the browser takes HTTP/2 (ALPN): the page and Socket.IO's polls come over h2, and
     * the upgrade to WebSocket is an extended CONNECT on that same connection, as Fulcrum's records
     * show: every tunnel's upgrade came as HTTP/2, on the connection that brought its page.
     */
    @Test
    void overHttpsTheBrowserSpeaksHttp2AndOpensItsWebSocketOnTheSameConnection() throws Exception {
        TestCerts.Cert cert = TestCerts.generate(certDir, "lb", "lb.test", "dns:lb.test,ip:127.0.0.1");
        lb.close();
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 2, shutdown-grace = 1s
                  listeners = [{ name = https, bind = "127.0.0.1:0", default-target-group = app
                                 tls { certificates = [{ cert = "%s", key = "%s" }] } }]
                  target-groups.app { targets = ["127.0.0.1:%d", "127.0.0.1:%d"]
                    health-check { path = "/health", interval = 300ms, timeout = 250ms,
                                   healthy-threshold = 2, unhealthy-threshold = 2 }
                    stickiness { enabled = true, type = lb-cookie-and-engine-io, secret = "browser-test-secret" } }
                }""".formatted(cert.certFile(), cert.keyFile(), cluster.port(0), cluster.port(1)));
        List<ExchangeObserver.ExchangeRecord> exchanges = new CopyOnWriteArrayList<>();
        List<ExchangeObserver.TunnelRecord> tunnels = new CopyOnWriteArrayList<>();
        AtomicInteger connections = new AtomicInteger();
        lb.balancer().listenerContexts().get(0).observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                exchanges.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
                tunnels.add(r);
            }

            @Override
            public void connectionOpened(String listener) {
                connections.incrementAndGet();
            }

            @Override
            public boolean recordsRequests() {
                return true;
            }
        });
        int pages = chat("https://127.0.0.1:" + lb.port() + "/", "h2");
        // The driver closed its pages: their WebSockets end, and each is recorded.
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (tunnels.size() < pages && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(pages, tunnels.size(), () -> "one WebSocket per page opened: " + tunnels);
        for (ExchangeObserver.TunnelRecord t : tunnels) {
            ExchangeObserver.ExchangeRecord upgrade = t.upgrade();
            assertEquals("HTTP/2.0", upgrade.protocol(), () -> "the WebSocket came as an HTTP/2 stream: " + t);
            assertTrue(t.uri().contains("transport=websocket"), t::toString);
            assertTrue(t.bytesFromClient() > 0 && t.bytesFromTarget() > 0, () -> "carried the chat: " + t);
            String connection = upgrade.connection().id();
            assertTrue(exchanges.stream().anyMatch(r -> "/".equals(r.uri()) && "HTTP/2.0".equals(r.protocol())
                                                        && connection.equals(r.connection().id())),
                       () -> "its page came on the same connection " + connection + ": " + exchanges);
        }
        // One connection per browser context carried requests: no second connection for the WebSocket.
        Map<String, List<String>> byConnection = new java.util.TreeMap<>();
        exchanges.forEach(r -> byConnection.computeIfAbsent(r.connection().id(), k -> new ArrayList<>()).add(r.uri()));
        System.out.println("connections opened " + connections.get() + ", with requests: " + byConnection);
        assertEquals(pages, byConnection.size(), () -> "connections with requests for " + pages + " pages: " + byConnection);
    }

    /** Runs the driver and checks what it saw; returns how many pages it opened. */
    private int chat(String url, String protocol) throws Exception {
        Path out = ChatCluster.repoRoot().resolve("target/browser");
        Files.createDirectories(out);
        Path log = out.resolve("driver.log");
        Process driver = new ProcessBuilder("node", "chat.js", "--url", url, "--out", out.toString(),
                                            "--chromium", CHROMIUM.toString())
                .directory(browserDir().toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!driver.waitFor(DRIVER_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            driver.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Map<String, Object> result = lastResult(output);
        assertEquals(Boolean.TRUE, result.get("ok"), () -> "browser chat failed (" + log + "):\n" + output);

        @SuppressWarnings("unchecked")
        List<Map<String, Object>> pages = (List<Map<String, Object>>) result.get("pages");
        assertEquals(2, pages.size(), output);
        Set<String> servers = Set.of(cluster.serverId(0), cluster.serverId(1));
        List<String> seen = new ArrayList<>();
        for (Map<String, Object> page : pages) {
            assertEquals("websocket", page.get("transport"), () -> "upgraded to WebSocket: " + page);
            assertEquals("connected", page.get("status"), () -> "connected: " + page);
            assertTrue(servers.contains((String) page.get("server")), () -> "a chat server: " + page);
            assertTrue(((List<?>) page.get("cookies")).contains("FULCRUM"), () -> "kept the lb-cookie: " + page);
            assertEquals(List.of(protocol), page.get("protocols"), () -> "the page and its polls over " + protocol);
            for (String key : List.of("message", "reply")) {
                assertTrue(((List<?>) page.get("messages")).stream()
                                   .anyMatch(m -> String.valueOf(m).contains((String) result.get(key))),
                           () -> "shows the " + key + ": " + page);
            }
            assertTrue(Files.size(Path.of((String) page.get("screenshot"))) > 0, () -> "screenshot: " + page);
            seen.add((String) page.get("server"));
        }
        // The driver opens the second page again (up to 3 times) until it lands on the other server.
        assertNotEquals(seen.get(0), seen.get(1), () -> "the two pages on different servers: " + output);
        assertEquals(0, driver.exitValue(), output);
        return (int) output.lines().filter(l -> l.startsWith("{\"event\":\"connected\"")).count();
    }

    private static Map<String, Object> lastResult(String output) {
        Map<String, Object> result = null;
        for (String line : output.split("\n")) {
            if (line.startsWith("{\"event\":\"result\"")) {
                result = Json.parseObject(line);
            }
        }
        assertTrue(result != null, () -> "no result from the browser driver:\n" + output);
        return result;
    }

    private static Path browserDir() {
        return ChatCluster.repoRoot().resolve("src/test/browser");
    }

    /** Why the browser test cannot run here, or null when it can. */
    private static String missingPrerequisite() {
        String chat = ChatCluster.missingPrerequisite();
        if (chat != null) {
            return chat;
        }
        if (!Files.isExecutable(CHROMIUM)) {
            return CHROMIUM + " is missing (Debian's chromium package): run scripts/setup-test-deps";
        }
        Path driver = browserDir().resolve("node_modules/playwright-core");
        if (!Files.isDirectory(driver)) {
            return driver + " is missing: run scripts/setup-test-deps";
        }
        return null;
    }
}
