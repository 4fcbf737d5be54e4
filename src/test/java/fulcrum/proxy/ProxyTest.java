package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy path end to end: real client, real balancer, real backends, all on loopback. */
class ProxyTest {
    private HttpBackend a;
    private HttpBackend b;
    private FulcrumFixture lb;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        a = HttpBackend.start("a");
        b = HttpBackend.start("b");
        lb = FulcrumFixture.forTargets("health-check.enabled = false", a.address(), b.address());
    }

    @AfterEach
    void stop() {
        lb.close();
        a.close();
        b.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(lb.url(path))).timeout(Duration.ofSeconds(10)).build(),
                         HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void roundRobinIsPerRequestEvenOnOneClientConnection() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            List<String> bodies = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                c.send("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
                RawClient.Response r = c.read();
                assertEquals(200, r.status());
                bodies.add(r.body());
            }
            for (int i = 1; i < bodies.size(); i++) {
                assertTrue(!bodies.get(i).equals(bodies.get(i - 1)), "alternates: " + bodies);
            }
        }
        assertEquals(5, a.requests());
        assertEquals(5, b.requests());
    }

    @Test
    void backendConnectionsAreKeptAliveAndReused() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 40; i++) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(200, c.read().status());
            }
        }
        int open = 0;
        for (Target t : lb.balancer().targetGroups().get("app").snapshot().all()) {
            open += t.openConnections();
            assertEquals(20, t.requestsServed());
        }
        // Sequential requests: one pooled connection per target (the server may have closed one since).
        assertTrue(open <= 2, "backend connections open: " + open);
    }

    @Test
    void fiftyMegabytesStreamBothWaysWithoutBuffering() throws Exception {
        long size = 50L * 1024 * 1024;
        AtomicLong peak = new AtomicLong();
        AtomicBoolean sampling = new AtomicBoolean(true);
        ByteBufAllocatorMetricProvider alloc = (ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT;
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                peak.accumulateAndGet(alloc.metric().usedDirectMemory() + alloc.metric().usedHeapMemory(), Math::max);
                Thread.onSpinWait();
            }
        });
        sampler.start();
        try {
            long[] expected = new long[1];
            InputStream body = new InputStream() {
                long left = size;

                @Override
                public int read() {
                    throw new UnsupportedOperationException();
                }

                @Override
                public int read(byte[] buf, int off, int len) {
                    if (left == 0) {
                        return -1;
                    }
                    int n = (int) Math.min(len, left);
                    for (int i = 0; i < n; i++) {
                        buf[off + i] = (byte) ((size - left + i) % 251);
                        expected[0] = expected[0] * 31 + buf[off + i];
                    }
                    left -= n;
                    return n;
                }
            };
            HttpResponse<String> up = http.send(HttpRequest.newBuilder(URI.create(lb.url("/sink")))
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, up.statusCode());
            assertEquals(size + " " + expected[0], up.body());

            HttpResponse<InputStream> down = http.send(HttpRequest.newBuilder(URI.create(lb.url("/big?bytes=" + size)))
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            long n = 0;
            try (InputStream in = down.body()) {
                byte[] buf = new byte[65536];
                int r;
                while ((r = in.read(buf)) > 0) {
                    n += r;
                }
            }
            assertEquals(size, n);
        } finally {
            sampling.set(false);
            sampler.join();
        }
        assertTrue(peak.get() < 16L * 1024 * 1024, "Netty buffer memory peaked at " + peak.get() + " bytes");
    }

    @Test
    void chunkedRequestAndResponse() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("hello, world", r.body());
            assertEquals("chunked", r.header("Transfer-Encoding"));
            c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void expectContinue() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
            RawClient.Response cont = c.read();
            assertEquals(100, cont.status());
            c.send("hello");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("hello", r.body());
        }
    }

    @Test
    void http10ClientGetsAResponseAndAClose() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET / HTTP/1.0\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertTrue(r.body().equals("a") || r.body().equals("b"), r.body());
            assertTrue(c.closedByPeer());
        }
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals("keep-alive", r.header("Connection"));
            c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            assertEquals(200, c.read().status());
        }
    }

    @Test
    void headResponseHasNoBodyAndTheConnectionGoesOn() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("HEAD /big?bytes=1000 HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read(true);
            assertEquals(200, r.status());
            c.send("GET /?n=2 HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response next = c.read();
            assertEquals(200, next.status());
            assertTrue(next.body().equals("a") || next.body().equals("b"), next.body());
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET /status?code=201 HTTP/1.1\r\nHost: x\r\n\r\n"
                   + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                   + "GET /status?code=202 HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(201, c.read().status());
            RawClient.Response echo = c.read();
            assertEquals(200, echo.status());
            assertEquals("abc", echo.body());
            assertEquals(202, c.read().status());
        }
    }

    @Test
    void forwardingAndHopByHopHeaders() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET /h HTTP/1.1\r\nHost: chat.example.com\r\nConnection: keep-alive,, X-Secret \r\n"
                   + "Connection: x-other\r\nX-Other: 2\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
                   + "X-Forwarded-For: 203.0.113.7\r\n\r\n");
            assertEquals(200, c.read().status());
        }
        Map<String, List<String>> h = new HashMap<>(a.requests() > 0 ? a.requestHeaders().get(0)
                                                                      : b.requestHeaders().get(0));
        assertEquals(List.of("chat.example.com"), h.get("Host"));
        assertEquals(List.of("203.0.113.7, 127.0.0.1"), h.get("X-forwarded-for"));
        assertEquals(List.of("http"), h.get("X-forwarded-proto"));
        assertEquals(List.of(Integer.toString(lb.port())), h.get("X-forwarded-port"));
        assertTrue(h.get("X-request-id").get(0).matches("[0-9a-f]{32}"), h.get("X-request-id").toString());
        assertNull(h.get("X-secret"));
        assertNull(h.get("X-other"));
        assertNull(h.get("Keep-alive"));
        assertNull(h.get("Proxy-connection"));
        assertNull(h.get("Te"));
    }

    @Test
    void backendErrorsAreProperResponses() throws Exception {
        HttpResponse<String> r = get("/status?code=500");
        assertEquals(500, r.statusCode());
        r = get("/status?code=204");
        assertEquals(204, r.statusCode());
    }
}
