package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Response HEADERS as a client decodes them: a head larger than the client's frame size comes as
 * HEADERS and CONTINUATION, a head that ends the response carries END_STREAM, and HPACK's table
 * stays the same on both sides through all of it (heads and trailers share it), checked by
 * responses decoded intact after.
 */
class Http2ResponseHeadersTest {
    /** A field value of this size, eight times: 48 KiB of head, three HEADERS/CONTINUATION frames at 16 KiB. */
    private static final int BIG_VALUE = 6000;
    private static RawBackend backend;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        backend = new RawBackend(c -> {
            RawBackend.Request r;
            while ((r = c.readRequest()) != null) {
                String path = r.requestLine().split(" ")[1];
                c.write(response(path, r.requestLine().startsWith("HEAD ")));
            }
        });
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = h2, bind = "127.0.0.1:0", default-target-group = app }]
                  target-groups.app { targets = ["%s"], health-check.enabled = false, max-response-header-size = 64KiB }
                }""".formatted(backend.address()));
    }

    private static String response(String path, boolean head) {
        StringBuilder fields = new StringBuilder();
        switch (path) {
            case "/big" -> {
                for (int i = 0; i < 8; i++) {
                    fields.append("x-big-").append(i).append(": ").append(String.valueOf((char) ('a' + i)).repeat(BIG_VALUE))
                          .append("\r\n");
                }
            }
            case "/trailers" -> {
                return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n"
                       + "5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n";
            }
            case "/none" -> {
                return "HTTP/1.1 204 No Content\r\nx-kind: none\r\n\r\n";
            }
            default -> fields.append("x-path: ").append(path).append("\r\n");
        }
        return "HTTP/1.1 200 OK\r\n" + fields + "Content-Length: 2\r\n\r\n" + (head ? "" : "ok");
    }

    @AfterAll
    static void stop() throws IOException {
        if (lb != null) {
            lb.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private static Http2Headers get(String path) {
        return H2Wire.get(lb.port(), path);
    }

    private static Frame headersOf(List<Frame> frames, int stream) {
        return frames.stream().filter(f -> f.stream() == stream && f.type().equals("HEADERS")).findFirst().orElse(null);
    }

    private static String body(List<Frame> frames, int stream) {
        StringBuilder b = new StringBuilder();
        frames.stream().filter(f -> f.stream() == stream && f.type().equals("DATA"))
              .forEach(f -> b.append(new String(f.data(), java.nio.charset.StandardCharsets.US_ASCII)));
        return b.toString();
    }

    /** Sends GET {@code path} on {@code stream} and reads until that stream ends. */
    private static List<Frame> exchange(H2Wire c, int stream, Http2Headers request) throws IOException {
        c.headers(stream, request, true).flush();
        return c.read(f -> f.stream() == stream && f.endStream(), 5000);
    }

    private static void assertSmallResponse(H2Wire c, int stream, String path) throws IOException {
        List<Frame> frames = exchange(c, stream, get(path));
        Frame h = headersOf(frames, stream);
        assertNotNull(h, frames.toString());
        assertEquals(200, h.status(), frames.toString());
        assertEquals(path, String.valueOf(h.headers().get("x-path")), "a field decoded through the shared table");
        assertEquals("ok", body(frames, stream));
    }

    @Test
    void aHeadOverTheFrameSizeComesInContinuationsAndTheTableStaysInStep() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings().maxHeaderListSize(128 * 1024))) {
            assertSmallResponse(c, 1, "/one");
            List<Frame> frames = exchange(c, 3, get("/big"));
            Frame h = headersOf(frames, 3);
            assertNotNull(h, frames.toString());
            for (int i = 0; i < 8; i++) {
                assertEquals(String.valueOf((char) ('a' + i)).repeat(BIG_VALUE), String.valueOf(h.headers().get("x-big-" + i)),
                             "x-big-" + i);
            }
            assertEquals("ok", body(frames, 3));
            assertSmallResponse(c, 5, "/one");
            assertSmallResponse(c, 7, "/two");
            assertFalse(c.closedByPeer());
        }
    }

    @Test
    void headsThatEndTheResponseAndTrailersShareTheTable() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            assertSmallResponse(c, 1, "/one");
            List<Frame> none = exchange(c, 3, get("/none"));
            Frame h = headersOf(none, 3);
            assertNotNull(h, none.toString());
            assertEquals(204, h.status());
            assertTrue(h.endStream(), "a 204's HEADERS end the stream: " + none);
            assertEquals("none", String.valueOf(h.headers().get("x-kind")));

            List<Frame> head = exchange(c, 5, get("/one").method("HEAD"));
            h = headersOf(head, 5);
            assertNotNull(h, head.toString());
            assertTrue(h.endStream(), "a HEAD's HEADERS end the stream: " + head);
            assertEquals("", body(head, 5));

            List<Frame> trailers = exchange(c, 7, get("/trailers"));
            assertEquals("hello", body(trailers, 7));
            Frame last = trailers.get(trailers.size() - 1);
            assertEquals("HEADERS", last.type(), trailers.toString());
            assertEquals("42", String.valueOf(last.headers().get("x-sum")), trailers.toString());

            assertSmallResponse(c, 9, "/one");
            assertSmallResponse(c, 11, "/two");
        }
    }
}
