package fulcrum.diagnose;

import fulcrum.socketio.ChatClients;
import fulcrum.socketio.ChatCluster;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code fulcrum diagnose} against real setups: two chat servers (Socket.IO with the Redis
 * adapter) behind Fulcrum and behind HAProxy, configured right and wrong. The servers ping every
 * 3 s so that a ping cycle takes seconds.
 */
@Timeout(120)
class DiagnoseTest {
    private static final String HEALTH = """
            health-check { path = "/health", interval = 300ms, timeout = 250ms, healthy-threshold = 2, unhealthy-threshold = 2 }
            """;

    @TempDir
    static Path dir;
    private static ChatCluster cluster;

    @BeforeAll
    static void startServers() throws Exception {
        String missing = ChatCluster.missingPrerequisite();
        assertNull(missing, () -> "the diagnose tests need the chat fixture: " + missing);
        cluster = ChatCluster.start(2, Map.of("PING_INTERVAL", "3000", "PING_TIMEOUT", "2000"));
    }

    @AfterAll
    static void stopServers() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private record Outcome(int exit, String out, String err) {
        void has(String... lines) {
            for (String l : lines) {
                assertTrue(out.contains(l), () -> "expected '" + l + "' in:\n" + out + err);
            }
        }

        void hasNot(String... lines) {
            for (String l : lines) {
                assertFalse(out.contains(l), () -> "did not expect '" + l + "' in:\n" + out + err);
            }
        }
    }

    private static Outcome diagnose(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Diagnose.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), "test");
        return new Outcome(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static FulcrumFixture fulcrum(String listener, String group) throws InterruptedException {
        FulcrumFixture lb = FulcrumFixture.start("fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app\n" + listener + " }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:" + cluster.port(0) + "\", \"127.0.0.1:" + cluster.port(1) + "\"]\n"
                + HEALTH + group + "\n} }");
        awaitRoutable(lb);
        return lb;
    }

    private static void awaitRoutable(FulcrumFixture lb) throws InterruptedException {
        var group = lb.balancer().targetGroups().get("app");
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (group.snapshot().routableCount() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(2, group.snapshot().routableCount(), "both chat servers healthy");
    }

    @Test
    void fulcrumWithEngineIoStickinessPassesEveryCheck() throws Exception {
        try (FulcrumFixture lb = fulcrum("", "stickiness { enabled = true, type = lb-cookie-and-engine-io }")) {
            Outcome o = diagnose("--quick", lb.url("/"));
            assertEquals(0, o.exit(), o.out());
            o.has("PASS  EIO=4 handshake: 200; pingInterval 3000 ms, pingTimeout 2000 ms, upgrades [websocket]",
                  "sets cookie FULCRUM (Fulcrum stickiness",
                  "PASS  EIO=4 polling, cookies kept (browsers): 4 sessions, 24 requests",
                  "PASS  EIO=4 polling, no cookies (Node.js, mobile): 4 sessions",
                  "PASS  EIO=4 upgrade to WebSocket: 8 upgrades",
                  "PASS  EIO=4 WebSocket-only sessions: 4 sessions",
                  "PASS  EIO=3 polling, no cookies (Node.js, mobile)",
                  "PASS  EIO=3 upgrade to WebSocket",
                  "PASS  EIO=4 ping cycle, long-polling: 1 ping answered",
                  "PASS  EIO=4 ping cycle, WebSocket: 1 ping answered",
                  "PASS  EIO=3 ping cycle, long-polling: 1 ping answered",
                  "PASS  EIO=3 ping cycle, WebSocket: 1 ping answered",
                  "PASS  CORS from https://diagnose.invalid");
            o.hasNot("FAIL", "WARN", "SKIP");
        }
    }

    @Test
    void aFullPingCycleAnswersTwoPingsOverPingIntervalPlusPingTimeout() throws Exception {
        try (FulcrumFixture lb = fulcrum("", "stickiness { enabled = true, type = engine-io }")) {
            Outcome o = diagnose("--sessions", "1", lb.url("/"));
            assertEquals(0, o.exit(), o.out());
            o.has("PASS  EIO=4 ping cycle, long-polling: 2 pings answered over",
                  "PASS  EIO=4 ping cycle, WebSocket: 2 pings answered over",
                  "PASS  EIO=3 ping cycle, long-polling: 2 pings answered over",
                  "PASS  EIO=3 ping cycle, WebSocket: 2 pings answered over");
        }
    }

    @Test
    void fulcrumWithoutStickinessFailsWithSessionIdUnknownAndTheFix() throws Exception {
        try (FulcrumFixture lb = fulcrum("", "stickiness.enabled = false")) {
            Outcome o = diagnose("--quick", lb.url("/"));
            assertEquals(1, o.exit(), o.out());
            o.has("FAIL  EIO=4 polling, cookies kept (browsers)",
                  "FAIL  EIO=4 polling, no cookies (Node.js, mobile)",
                  "FAIL  EIO=3 polling, no cookies (Node.js, mobile)",
                  "\"Session ID unknown\" in ",
                  "the requests of one session reached different servers",
                  "fix   Fulcrum: target-groups.NAME.stickiness { enabled = true, type = lb-cookie-and-engine-io }",
                  // one connection per session needs no stickiness
                  "PASS  EIO=4 WebSocket-only sessions",
                  "SKIP  EIO=4 ping cycle, long-polling");
        }
    }

    @Test
    void aSecureStickinessCookieOnPlainHttpIsNotSentBackAsInABrowser() throws Exception {
        // SameSite=None implies Secure: a browser drops the cookie on an http:// listener.
        try (FulcrumFixture lb = fulcrum("", "stickiness { enabled = true, type = lb-cookie, same-site = None }")) {
            Outcome o = diagnose("--quick", "--sessions", "2", lb.url("/"));
            assertEquals(1, o.exit(), o.out());
            o.has("sets cookie FULCRUM (Fulcrum stickiness; SameSite=None, Secure): Secure over plain HTTP, "
                  + "so browsers never send it back",
                  "FAIL  EIO=4 polling, cookies kept (browsers)");
        }
    }

    @Test
    void fulcrumWithTimeoutsShorterThanThePingIntervalFailsThePingCycle() throws Exception {
        try (FulcrumFixture lb = fulcrum("idle-timeout = 1s",
                "stickiness { enabled = true, type = engine-io }, response-timeout = 1s")) {
            Outcome o = diagnose("--quick", lb.url("/"));
            assertEquals(1, o.exit(), o.out());
            o.has("PASS  EIO=4 polling, no cookies (Node.js, mobile)",
                  "FAIL  EIO=4 ping cycle, long-polling: a long-poll was cut after",
                  "504 Gateway Timeout",
                  "Fulcrum: target-groups.NAME.response-timeout = 6s or more",
                  "FAIL  EIO=4 ping cycle, WebSocket: the WebSocket was closed after",
                  "Fulcrum: listeners[].idle-timeout = 6s or more",
                  "FAIL  EIO=3 ping cycle, long-polling: a long-poll was cut after",
                  "FAIL  EIO=3 ping cycle, WebSocket: the WebSocket was closed after");
        }
    }

    @Test
    void haproxyRoundRobinWithoutStickinessIsFlagged() throws Exception {
        try (Haproxy h = Haproxy.start(dir, "balance roundrobin", "", cluster.ports())) {
            Outcome o = diagnose("--quick", h.url());
            assertEquals(1, o.exit(), o.out());
            o.has("FAIL  EIO=4 polling, cookies kept (browsers)",
                  "FAIL  EIO=4 polling, no cookies (Node.js, mobile)",
                  "\"Session ID unknown\" in ",
                  "the balancer set no cookie on the handshake",
                  "HAProxy: in the backend, cookie SERVERID insert indirect nocache");
            // Real socket.io-client polling through it meets the failure the diagnosis flagged.
            try (ChatClients clients = ChatClients.start(h.url(), 4, "polling", false, 4, 0)) {
                assertTrue(clients.awaitEvent(e -> "connect_error".equals(e.get("event"))
                                                   && String.valueOf(e.get("body")).contains("Session ID unknown"),
                                Duration.ofSeconds(30)).isPresent(),
                        () -> "expected Session ID unknown: " + clients.events());
            }
        }
    }

    @Test
    void haproxyCookieStickinessServesBrowsersAndWarnsAboutCookielessClients() throws Exception {
        try (Haproxy h = Haproxy.start(dir, "balance roundrobin\ncookie SERVERID insert indirect nocache",
                "cookie s{n}", cluster.ports())) {
            Outcome o = diagnose("--quick", h.url());
            assertEquals(0, o.exit(), o.out());
            o.has("sets cookie SERVERID (HAProxy's usual stickiness cookie",
                  "PASS  EIO=4 polling, cookies kept (browsers)",
                  "WARN  EIO=4 polling, no cookies (Node.js, mobile): works only for clients that keep the balancer's cookie",
                  "HAProxy: also stick on the sid",
                  "PASS  EIO=4 upgrade to WebSocket",
                  "PASS  EIO=4 ping cycle, long-polling");
            o.hasNot("FAIL");
            assertEquals(1, diagnose("--quick", "--strict", "--sessions", "2", h.url()).exit(), "--strict: warnings fail");
        }
    }

    @Test
    void haproxySidStickinessLearntFromTheHandshakePassesEveryCheck() throws Exception {
        // The backend README's diagnose section recommends for clients without cookies.
        try (Haproxy h = Haproxy.start(dir, """
                balance roundrobin
                stick-table type string len 64 size 1m expire 1h
                http-response wait-for-body time 2s if { res.hdr(content-type) -m beg text/plain }
                stick on url_param(sid)
                stick store-response res.body,field(4,'\\"') if { res.body -m sub sid }
                """, "", cluster.ports())) {
            Outcome o = diagnose("--quick", h.url());
            assertEquals(0, o.exit(), o.out());
            o.has("PASS  EIO=4 polling, no cookies (Node.js, mobile)", "PASS  EIO=3 polling, no cookies (Node.js, mobile)",
                  "PASS  EIO=4 upgrade to WebSocket", "PASS  EIO=4 ping cycle, long-polling");
            o.hasNot("FAIL", "WARN");
            // What the diagnosis says, real socket.io-client polling without cookies confirms.
            for (int eio : new int[] {4, 3}) {
                try (ChatClients clients = ChatClients.start(h.url(), 4, "polling", false, eio, eio * 100)) {
                    assertTrue(clients.awaitReady(Duration.ofSeconds(30)), () -> "not all connected: " + clients.events());
                    clients.sendChat();
                    assertTrue(clients.awaitReceivedFrom(clients.clientIds(), Duration.ofSeconds(30)),
                            () -> "chat did not reach every client: " + clients.events());
                    ChatClients.Report r = clients.report();
                    for (ChatClients.Client c : r.clients()) {
                        assertEquals(List.of(), c.connectErrors(), () -> "EIO=" + eio + " client " + c);
                    }
                    assertEquals(2, r.servers().size(), () -> "clients spread over both servers: " + r);
                }
            }
        }
    }

    @Test
    void haproxyThatDropsTheUpgradeFieldsFailsTheUpgrades() throws Exception {
        try (Haproxy h = Haproxy.start(dir, """
                balance source
                http-request del-header Upgrade
                http-request del-header Connection
                """, "", cluster.ports())) {
            Outcome o = diagnose("--quick", "--sessions", "2", h.url());
            assertEquals(1, o.exit(), o.out());
            o.has("PASS  EIO=4 polling, no cookies (Node.js, mobile)",
                  "FAIL  EIO=4 upgrade to WebSocket: upgrade fields lost on the way",
                  "FAIL  EIO=4 WebSocket-only sessions: upgrade fields lost on the way",
                  "nginx:   proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;",
                  "SKIP  EIO=4 ping cycle, WebSocket");
        }
    }

    @Test
    void tlsCertificatesAreJudgedBeforeAnythingElse() throws Exception {
        TestCerts.Cert good = TestCerts.generate(dir, "good", "127.0.0.1", "ip:127.0.0.1");
        TestCerts.Cert other = TestCerts.generate(dir, "other", "chat.test", "dns:chat.test");
        String tls = "tls.certificates = [{ cert = \"%s\", key = \"%s\" }]";
        try (FulcrumFixture lb = FulcrumFixture.start("fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                + "listeners = [{ name = good, bind = \"127.0.0.1:0\", default-target-group = app, "
                + tls.formatted(good.certFile(), good.keyFile()) + " },\n"
                + "{ name = other, bind = \"127.0.0.2:0\", default-target-group = app, "
                + tls.formatted(other.certFile(), other.keyFile()) + " }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:" + cluster.port(0) + "\", \"127.0.0.1:" + cluster.port(1) + "\"]\n"
                + HEALTH + "stickiness { enabled = true, type = engine-io } } }")) {
            awaitRoutable(lb);
            String goodUrl = "https://127.0.0.1:" + lb.balancer().listenerAddress(0).getPort() + "/";
            String otherUrl = "https://127.0.0.2:" + lb.balancer().listenerAddress(1).getPort() + "/";

            Outcome trusted = diagnose("--quick", "--sessions", "2", "--cacert", good.certFile().toString(), goodUrl);
            assertEquals(0, trusted.exit(), trusted.out());
            trusted.has("PASS  TLS 127.0.0.1:", "certificate valid for 127.0.0.1, trusted",
                        "ALPN offered http/1.1 alone: server chose http/1.1", "PASS  EIO=4 upgrade to WebSocket");

            Outcome untrusted = diagnose("--quick", goodUrl);
            assertEquals(1, untrusted.exit(), untrusted.out());
            untrusted.has("FAIL  TLS 127.0.0.1:", "chain not trusted by the system's trust store",
                          "stopped: the TLS check failed");
            untrusted.hasNot("EIO=4 handshake");

            Outcome wrongName = diagnose("--quick", "--sessions", "2", "--insecure", "--cacert", other.certFile().toString(), otherUrl);
            assertEquals(1, wrongName.exit(), wrongName.out());
            wrongName.has("FAIL  TLS 127.0.0.2:", "does not name 127.0.0.2 (names [chat.test])",
                          "fix   Fulcrum: listeners[].tls.certificates",
                          "PASS  EIO=4 polling, no cookies (Node.js, mobile)");
        }
    }

    @Test
    void corsIsAWarningUnlessAnOriginIsGiven() throws Exception {
        // The chat servers allow every origin with credentials; a bare server without cors would not.
        Outcome allowed = diagnose("--quick", "--sessions", "1", "--origin", "https://app.example", cluster.url(0));
        allowed.has("PASS  CORS from https://app.example: preflight and handshake allow the origin, with credentials");
        assertEquals(0, allowed.exit(), allowed.out());
    }

    @Test
    void usageErrorsExitWith2AndWrongOrUnreachableTargetsWith1() {
        for (List<String> args : List.of(List.<String>of(), List.of("ftp://127.0.0.1/"), List.of("--bogus", "http://x/"),
                List.of("--sessions", "0", "http://x/"), List.of("--timeout", "soon", "http://x/"),
                List.of("http://a/", "http://b/"), List.of("--path"), List.of("--origin", "app.example", "http://x/"))) {
            Outcome o = diagnose(args.toArray(String[]::new));
            assertEquals(2, o.exit(), () -> args + ": " + o.err());
            assertTrue(o.err().startsWith("fulcrum diagnose: "), o.err());
            assertTrue(o.err().contains("Usage: fulcrum diagnose"), o.err());
        }
        Outcome help = diagnose("--help");
        assertEquals(0, help.exit());
        help.has("Usage: fulcrum diagnose [options] URL", "--quick");

        Outcome wrongPath = diagnose("--quick", "--path", "/chat/socket.io", cluster.url(0));
        assertEquals(1, wrongPath.exit(), wrongPath.out());
        wrongPath.has("FAIL  EIO=4 handshake: 404 at /chat/socket.io/: no Socket.IO there",
                      "fix   give the Socket.IO path with --path");

        Outcome refused = diagnose("--quick", "http://127.0.0.1:1/");
        assertEquals(1, refused.exit(), refused.out());
        refused.has("FAIL  EIO=4 handshake: cannot connect", "stopped: no handshake succeeded");
    }
}
