package fulcrum.h2;

import fulcrum.proxy.ExchangeObserver;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The listener's request limits and the group's response timeout hold for HTTP/2 streams too. */
class Http2LimitsTest {
    private static HttpBackend backend;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        backend = HttpBackend.start("a");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = h2, bind = "127.0.0.1:0", default-target-group = app,
                                 max-body-size = 1KiB, max-request-line = 1KiB,
                                 rules = [{ priority = 1, conditions.header { x-patient = ["yes"] }, action.forward = patient }] }]
                  target-groups.app { targets = ["%s"], health-check.enabled = false, response-timeout = 1s }
                  target-groups.patient { targets = ["%1$s"], health-check.enabled = false, response-timeout = 60s }
                }""".formatted(backend.address()));
    }

    @AfterAll
    static void stop() {
        if (lb != null) {
            lb.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /** The status of stream 1's response (0 when it got none) and what else came. */
    private static List<Frame> answer(H2Wire c) throws Exception {
        return c.read(f -> f.stream() == 1 && (f.status() != 0 || f.type().equals("RST_STREAM")), 10_000);
    }

    private static int status(List<Frame> frames) {
        return frames.stream().filter(f -> f.stream() == 1 && f.status() != 0).mapToInt(Frame::status).findFirst()
                .orElse(0);
    }

    @Test
    void aBodyPastTheLimitGets413WithOrWithoutALength() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            Http2Headers h = H2Wire.get(lb.port(), "/sink").method("POST").setInt("content-length", 5000);
            c.headers(1, h, false).flush();
            assertEquals(413, status(answer(c)));
        }
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/sink").method("POST"), false).data(1, new byte[600], false)
             .data(1, new byte[600], false).flush();
            assertEquals(413, status(answer(c)));
        }
    }

    /**
     * A CR, LF or NUL in a field value (or in :path) is malformed in HTTP/2 (RFC 9113 8.2.1) and
     * would split the HTTP/1.1 request to the target: refused, never forwarded, and the next
     * stream on the same connection is served.
     */
    @Test
    void controlCharactersInFieldsAreRefusedAndNeverReachTheTarget() throws Exception {
        int before = backend.requests();
        String[][] cases = {{"x-note", "a\r\nx-smuggled: 1"}, {"x-note", "a\nb"}, {"x-note", "a\u0000b"},
                            {":path", "/ok\r\nx-smuggled: 1"}, {"cookie", "a=1\r\nx-smuggled: 1"}};
        int stream = 1;
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            for (String[] f : cases) {
                Http2Headers h = new DefaultHttp2Headers(false); // a client that does not check what it sends
                h.setAll(H2Wire.get(lb.port(), "/"));
                if (f[0].equals(":path")) {
                    h.path(f[1]);
                } else {
                    h.add(f[0], f[1]);
                }
                int id = stream;
                c.headers(id, h, true).flush();
                List<Frame> got = c.read(x -> x.stream() == id && (x.endStream() || x.type().equals("RST_STREAM")), 10_000);
                int status = got.stream().filter(x -> x.stream() == id && x.status() != 0).mapToInt(Frame::status)
                        .findFirst().orElse(0);
                boolean reset = got.stream().anyMatch(x -> x.stream() == id && x.type().equals("RST_STREAM"));
                assertTrue(status == 400 || (status == 0 && reset), f[0] + ": " + got);
                stream += 2;
            }
            assertEquals(before, backend.requests(), "no malformed request reached the target");
            int id = stream;
            c.headers(id, H2Wire.get(lb.port(), "/after"), true).flush();
            List<Frame> got = c.read(x -> x.stream() == id && x.endStream(), 10_000);
            assertTrue(got.stream().anyMatch(x -> x.stream() == id && x.status() == 200), got.toString());
        }
        assertTrue(backend.requestHeaders().stream().noneMatch(m -> m.containsKey("x-smuggled")));
    }

    @Test
    void aLongPathGets414AndAHugeHeaderList431() throws Exception {
        List<ExchangeObserver.ExchangeRecord> records = new CopyOnWriteArrayList<>();
        lb.balancer().listenerContexts().get(0).observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                records.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
            }
        });
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/" + "p".repeat(2000)), true).flush();
            assertEquals(414, status(answer(c)));
        }
        ExchangeObserver.ExchangeRecord refused = records.get(0);
        assertEquals(414, refused.status(), "the refusal is in the access log: " + refused);
        assertEquals("HTTP/2.0", refused.protocol());
        assertEquals(null, refused.target());
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/").add("x-big", "v".repeat(70_000)), true).flush();
            assertEquals(431, status(answer(c)));
        }
        int before = backend.requests();
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/after"), true).flush();
            assertEquals(200, status(answer(c)));
        }
        assertEquals(before + 1, backend.requests(), "only the good request reached the target");
    }

    @Test
    void aSilentTargetGets504OnItsStreamAlone() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/hang"), true).flush();
            c.headers(3, H2Wire.get(lb.port(), "/ok"), true).flush();
            List<Frame> frames = c.read(f -> f.stream() == 1 && f.endStream(), 10_000);
            assertTrue(frames.stream().anyMatch(f -> f.stream() == 3 && f.status() == 200), frames.toString());
            assertEquals(504, status(frames), frames.toString());
        }
    }

    /**
     * The streams of a connection share one response timer: armed first for a group that waits
     * 60 s, it is brought forward for a stream of a group that waits 1 s, whose 504 does not wait
     * for the other's deadline.
     */
    @Test
    void aShorterResponseTimeoutOnTheSameConnectionIsNotDelayedByALongerOne() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/hang").add("x-patient", "yes"), true).flush();
            Thread.sleep(200); // stream 1 reaches its target and arms the timer first
            long t0 = System.nanoTime();
            c.headers(3, H2Wire.get(lb.port(), "/hang"), true).flush();
            List<Frame> frames = c.read(f -> f.stream() == 3 && f.endStream(), 10_000);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(frames.stream().anyMatch(f -> f.stream() == 3 && f.status() == 504), frames.toString());
            assertTrue(frames.stream().noneMatch(f -> f.stream() == 1 && f.status() != 0), "stream 1 still waits: " + frames);
            assertTrue(ms < 8_000, "504 after " + ms + " ms");
        }
    }
}
