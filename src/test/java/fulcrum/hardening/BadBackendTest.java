package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backends that misbehave, scripted on a raw socket by request path. The client gets a clean
 * 502/504 (or its connection closed once part of the response was sent), the bad backend
 * connection is never reused (every good answer names the backend connection that gave it), and
 * the client's next request works.
 */
class BadBackendTest {
    private RawBackend backend;
    private FulcrumFixture lb;

    /** Answers {@code /ok...} with the number of the connection it came on. */
    private static void ok(RawBackend.Conn c) throws IOException {
        String body = "conn-" + c.number;
        c.write("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
    }

    private static void script(RawBackend.Conn c) throws IOException {
        RawBackend.Request r;
        while ((r = c.readRequest(false)) != null) {
            String path = r.requestLine().split(" ")[1];
            switch (path) {
                case "/garbage" -> c.write("THIS IS NOT HTTP\r\n\r\n");
                case "/short" -> {
                    c.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
                    c.close();
                    return;
                }
                case "/101" -> c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                       + "Connection: Upgrade\r\n\r\n");
                case "/long" -> c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                        + "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON");
                case "/silent" -> {
                    // Holds the connection open without a word until the balancer gives up on it.
                    while (c.socket.getInputStream().read() >= 0) {
                        // discard
                    }
                    return;
                }
                case "/early" -> {
                    // Answers at once, leaving the request body unread.
                    c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly");
                    c.socket.getInputStream().skip(Long.MAX_VALUE);
                    return;
                }
                case "/partial" -> c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 2");
                case "/badname" -> c.write("HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok");
                case "/odd" -> c.write("HTTP/1.1 299 Quite Alright\r\nX-Fold: one\r\n two\r\nX-Nul: a\0b\r\n"
                                       + "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nContent-Length: 2\r\n\r\nok");
                case "/bighead" -> c.write("HTTP/1.1 200 OK\r\nX-Big: " + "x".repeat(4096)
                                           + "\r\nContent-Length: 2\r\n\r\nok");
                default -> ok(c);
            }
        }
    }

    @BeforeEach
    void start() throws IOException {
        backend = new RawBackend(BadBackendTest::script);
        lb = FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false,"
                + " response-timeout = 1s, max-retries = 0, max-response-header-size = 1KiB } }");
    }

    @AfterEach
    void stop() throws IOException {
        lb.close();
        backend.close();
    }

    private static String get(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }

    /** Warms one pooled backend connection; returns its answer ("conn-N"). */
    private String okOn(RawClient c) throws IOException {
        c.send(get("/ok"));
        RawClient.Response r = c.read();
        assertNotNull(r);
        assertEquals(200, r.status(), r.head());
        return r.body();
    }

    /** The bad exchange answered {@code status} and the connection behind it is not used again. */
    private void answeredAndNotReused(String path, int status) throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            String before = okOn(c);
            c.send(get(path));
            RawClient.Response r = c.read();
            assertNotNull(r, "answered");
            assertEquals(status, r.status(), r.head());
            String after = okOn(c);
            assertNotEquals(before, after, "the connection that misbehaved is not reused");
            assertEquals("conn-" + backend.connections(), after);
        }
    }

    @Test
    void garbageIs502() throws IOException {
        answeredAndNotReused("/garbage", 502);
    }

    @Test
    void unsolicited101Is502() throws IOException {
        answeredAndNotReused("/101", 502);
    }

    @Test
    void silenceIs504() throws IOException {
        long t = System.nanoTime();
        answeredAndNotReused("/silent", 504);
        assertTrue(System.nanoTime() - t < 5_000_000_000L);
    }

    @Test
    void responseHeadOverTheLimitIs502() throws IOException {
        answeredAndNotReused("/bighead", 502);
    }

    @Test
    void closeMidResponseClosesTheClient() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            String before = okOn(c);
            c.send(get("/short"));
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertTrue(r.body().length() < 10, "the body was cut short: " + r.body());
            assertTrue(c.closedByPeer(), "a response that cannot be completed closes the client connection");
            assertEquals("conn-1", before);
        }
        try (RawClient c = new RawClient(lb.port())) {
            assertEquals("conn-2", okOn(c));
        }
    }

    @Test
    void bytesBeyondContentLengthAreNeverAnotherResponse() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            okOn(c);
            c.send(get("/long"));
            assertEquals("ok", c.read().body());
            String next = okOn(c);
            assertTrue(next.startsWith("conn-"), next);
            assertNotEquals("conn-1", next);
        }
    }

    @Test
    void bytesBeyondContentLengthWithAPipelinedRequest() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            okOn(c);
            // The next request is already waiting when the extra bytes arrive, in the same read as the response.
            c.send(get("/long") + get("/ok"));
            assertEquals("ok", c.read().body());
            RawClient.Response next = c.read();
            assertNotNull(next);
            assertEquals(200, next.status());
            assertNotEquals("POISON", next.body(), "the extra bytes were delivered as the next response");
            assertNotEquals("conn-1", next.body());
        }
    }

    @Test
    void partOfAnUnaskedResponseKeepsTheConnectionFromBeingReused() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            String before = okOn(c);
            c.send(get("/partial"));
            assertEquals("ok", c.read().body());
            String after = okOn(c);
            assertNotEquals(before, after, "the connection holding stray bytes is not reused");
        }
    }

    @Test
    void aFieldNameThatIsNotATokenIs502() throws IOException {
        answeredAndNotReused("/badname", 502);
    }

    @Test
    void oddButReadableHeadsReachTheClientMended() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            c.send(get("/odd"));
            RawClient.Response r = c.read();
            assertEquals(299, r.status(), r.head());
            String head = r.head();
            assertTrue(head.startsWith("HTTP/1.1 299 Quite Alright\r\n"), head);
            assertTrue(head.contains("\r\nX-Fold: one   two\r\n"), "obs-fold unfolded: " + head);
            assertTrue(head.contains("\r\nX-Nul: a b\r\n"), "NUL replaced: " + head);
            assertFalse(head.toLowerCase().contains("x-hop"), "a field named by Connection is removed: " + head);
            assertFalse(head.toLowerCase().contains("connection:"), head);
            assertEquals("ok", r.body());
        }
    }

    @Test
    void answerBeforeTheBodyIsRead() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            String before = okOn(c);
            String body = "y".repeat(200_000);
            c.send("POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n"
                   + body.substring(0, 1000));
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("early", r.body());
            c.send(body.substring(1000));
            String after = okOn(c);
            assertNotEquals(before, after, "the connection left mid-request is not reused");
        }
    }
}
