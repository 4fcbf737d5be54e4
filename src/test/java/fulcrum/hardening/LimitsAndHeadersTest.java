package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Request limits and forwarding headers through a real balancer to a raw backend that records
 * what reaches it: an oversized request is answered by the balancer and never reaches the
 * backend; the backend is told who the client is only as far as the client can be believed.
 */
class LimitsAndHeadersTest {
    private RawBackend backend;
    private final List<FulcrumFixture> balancers = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        backend = new RawBackend(RawBackend.RECORDER);
    }

    @AfterEach
    void stop() throws IOException {
        balancers.forEach(FulcrumFixture::close);
        backend.close();
    }

    private FulcrumFixture balancer(String listenerSettings) {
        FulcrumFixture f = FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app\n"
                + listenerSettings + " }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
        balancers.add(f);
        return f;
    }

    private FulcrumFixture limited() {
        return balancer("max-request-line = 1KiB, max-header-size = 2KiB, max-headers = 10, max-body-size = 1KiB");
    }

    /** Sends {@code raw}; the balancer answers {@code status}, closes, and the backend saw nothing. */
    private void refused(FulcrumFixture lb, String raw, int status) throws IOException {
        long bytes = backend.bytesReceived();
        try (RawClient c = new RawClient(lb.port())) {
            c.send(raw + "GET /follow-up HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(status, r.status(), r.head());
            assertEquals("close", r.header("Connection"));
            assertTrue(c.closedByPeer());
        }
        assertEquals(bytes, backend.bytesReceived(), "nothing reached the backend");
        assertEquals(List.of(), backend.requests());
    }

    @Test
    void requestLineTooLongIs414() throws IOException {
        refused(limited(), "GET /" + "a".repeat(2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414);
    }

    @Test
    void headerBlockTooLargeIs431() throws IOException {
        refused(limited(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(3000) + "\r\n\r\n", 431);
    }

    @Test
    void tooManyHeadersIs431() throws IOException {
        StringBuilder h = new StringBuilder("GET / HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 12; i++) {
            h.append("X-H").append(i).append(": v\r\n");
        }
        refused(limited(), h.append("\r\n").toString(), 431);
    }

    @Test
    void bodyOverMaxBodySizeIs413() throws IOException {
        refused(limited(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + "c".repeat(2000), 413);
    }

    @Test
    void chunkedBodyOverMaxBodySizeIs413() throws IOException {
        String chunk = "d".repeat(800);
        refused(limited(), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + "320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n", 413);
    }

    @Test
    void requestsWithinTheLimitsPass() throws IOException {
        FulcrumFixture lb = limited();
        try (RawClient c = new RawClient(lb.port())) {
            c.send("POST /" + "a".repeat(900) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + "e".repeat(1024));
            assertEquals(200, c.read().status());
        }
        assertEquals(1024, backend.requests().get(0).body().length);
    }

    /** The headers the backend received for one request from this (loopback) client. */
    private RawBackend.Request forwarded(FulcrumFixture lb, String extraHeaders) throws IOException {
        int before = backend.requests().size();
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET /h HTTP/1.1\r\nHost: x\r\n" + extraHeaders + "\r\n");
            assertEquals(200, c.read().status());
        }
        return backend.requests().get(before);
    }

    @Test
    void untrustedClientCannotForgeXForwardedFor() throws IOException {
        FulcrumFixture lb = balancer("forwarded-headers { trusted-proxies = [\"10.0.0.0/8\"], forwarded = true }");
        RawBackend.Request r = forwarded(lb, "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n");
        assertEquals("127.0.0.1", r.header("X-Forwarded-For"));
        assertEquals(1, r.count("X-Forwarded-For"));
        assertEquals("for=127.0.0.1;proto=http", r.header("Forwarded"));
        assertEquals(1, r.count("Forwarded"));
    }

    @Test
    void trustedProxyIsAppendedTo() throws IOException {
        FulcrumFixture lb = balancer("forwarded-headers { trusted-proxies = [\"127.0.0.0/8\"], forwarded = true }");
        RawBackend.Request r = forwarded(lb, "X-Forwarded-For: 203.0.113.7\r\nForwarded: for=203.0.113.7\r\n");
        assertEquals("203.0.113.7, 127.0.0.1", r.header("X-Forwarded-For"));
        assertEquals("for=203.0.113.7, for=127.0.0.1;proto=http", r.header("Forwarded"));
        assertEquals("http", r.header("X-Forwarded-Proto"));
        assertEquals(Integer.toString(lb.port()), r.header("X-Forwarded-Port"));
    }

    @Test
    void replaceAndRemoveModes() throws IOException {
        FulcrumFixture replace = balancer("forwarded-headers { x-forwarded-for = replace }");
        assertEquals("127.0.0.1", forwarded(replace, "X-Forwarded-For: 203.0.113.7\r\n").header("X-Forwarded-For"));
        FulcrumFixture remove = balancer("forwarded-headers { x-forwarded-for = remove }");
        RawBackend.Request r = forwarded(remove, "X-Forwarded-For: 203.0.113.7\r\n");
        assertNull(r.header("X-Forwarded-For"));
        assertNull(r.header("Forwarded"), "no Forwarded unless asked for");
    }

    @Test
    void requestIdIsGeneratedWhenAbsentAndKeptWhenPresent() throws IOException {
        FulcrumFixture lb = balancer("");
        String generated = forwarded(lb, "").header("X-Request-Id");
        assertTrue(generated != null && generated.matches("[0-9a-f]{32}"), generated);
        assertTrue(!generated.equals(forwarded(lb, "").header("X-Request-Id")), "a new id per request");
        RawBackend.Request kept = forwarded(lb, "X-Request-Id: abc-123\r\n");
        assertEquals("abc-123", kept.header("X-Request-Id"));
        assertEquals(1, kept.count("X-Request-Id"));
        FulcrumFixture off = balancer("forwarded-headers { request-id = false }");
        assertNull(forwarded(off, "").header("X-Request-Id"));
    }
}
