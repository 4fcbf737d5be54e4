package fulcrum.hardening;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTP/2 flow control as backpressure, and the known HTTP/2 attacks, each written as raw frames:
 * Fulcrum holds its bounds, ends the abuser's connection where the attack calls for it, and keeps
 * serving other clients (curl, a fresh connection) while under it.
 */
class Http2AttackTest {
    private static final long BIG = 32L << 20;
    private static BulkBackend backend;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        backend = new BulkBackend(BIG, 32 * 1024);
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = h2, bind = "127.0.0.1:0", default-target-group = app, idle-timeout = 3s }]
                  target-groups.app { targets = ["%s"], health-check.enabled = false }
                }""".formatted(backend.address()));
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

    private static int port() {
        return lb.port();
    }

    private static Http2Headers get(String path) {
        return H2Wire.get(port(), path);
    }

    /** Another client meanwhile gets its answer over HTTP/2, on a connection of its own. */
    private static void othersAreServed() throws Exception {
        Cli.Result r = Cli.run(20, "curl", "-sS", "-m", "10", "--http2-prior-knowledge", "-w", " %{http_version} %{http_code}",
                               lb.url("/other"));
        assertEquals("ok 2 200", r.output());
    }

    private static boolean isGoAway(Frame f, Http2Error e) {
        return f.type().equals("GOAWAY") && f.code() == e.code();
    }

    @Test
    void aStreamWhoseClientDoesNotReadHoldsItsTargetBackNotTheOtherStreams() throws Exception {
        // Streams start with a zero window; the connection's is wide open. Stream 1 asks for 32 MiB
        // and never opens its window: Fulcrum must stop reading its target, not buffer the response.
        long before = backend.written();
        try (H2Wire c = new H2Wire(port(), new Http2Settings().initialWindowSize(0))) {
            c.windowUpdate(0, 1 << 30).headers(1, get("/big"), true).flush();
            List<Frame> head = c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000);
            assertTrue(head.stream().anyMatch(f -> f.status() == 200), head.toString());
            // Stream 3 on the same connection is answered while stream 1 stalls.
            c.headers(3, get("/small"), true).windowUpdate(3, 1 << 20).flush();
            List<Frame> small = c.read(f -> f.stream() == 3 && f.endStream(), 10_000);
            assertTrue(small.stream().anyMatch(f -> f.stream() == 3 && f.type().equals("DATA") && f.bytes() == 2),
                       small.toString());
            Thread.sleep(1000);
            long written = backend.written() - before;
            Thread.sleep(500);
            assertEquals(written, backend.written() - before, "the target is no longer read");
            // Socket buffers both sides plus a write buffer and a read or two in Fulcrum: far below 32 MiB.
            assertTrue(written < 8L << 20, "the target wrote " + written + " bytes of a stalled response");
            othersAreServed();
            // Opening the window lets the response flow again, to its end.
            c.windowUpdate(1, Integer.MAX_VALUE).flush();
            List<Frame> rest = c.read(f -> f.stream() == 1 && f.endStream(), 60_000);
            long got = rest.stream().filter(f -> f.stream() == 1 && f.type().equals("DATA")).mapToLong(Frame::bytes).sum();
            assertEquals(BIG, got, "the whole response once the client reads");
        }
    }

    @Test
    void aClientThatStallsItsWindowAndOnlyPingsMeetsTheIdleTimeout() throws Exception {
        try (H2Wire c = new H2Wire(port(), new Http2Settings().initialWindowSize(0))) {
            c.headers(1, get("/big"), true).flush();
            long start = System.nanoTime();
            boolean closed = false;
            while (System.nanoTime() - start < 15_000_000_000L && !closed) {
                closed = !c.ping(42).flush();
                c.read(f -> false, 500);
                closed |= c.closedByPeer();
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertTrue(closed, "closed at the idle timeout (3 s) although it pinged");
            assertTrue(seconds >= 2, "not before the idle timeout: " + seconds + " s");
        }
        othersAreServed();
    }

    @Test
    void rapidResetGetsGoAway() throws Exception {
        // CVE-2023-44487: open a stream and reset it at once, over and over.
        // 300 at once, past the 200 allowed in 30 s, and few enough to be read before the close (a
        // close with bytes unread would be a reset, and the GOAWAY lost with it).
        try (H2Wire c = new H2Wire(port(), new Http2Settings())) {
            for (int i = 0; i < 300; i++) {
                int stream = 1 + 2 * i;
                c.headers(stream, get("/r" + i), true).rst(stream, Http2Error.CANCEL.code());
            }
            c.flush();
            List<Frame> frames = c.read(f -> f.type().equals("GOAWAY"), 10_000);
            assertTrue(frames.stream().anyMatch(f -> isGoAway(f, Http2Error.ENHANCE_YOUR_CALM)), frames.toString());
            c.read(f -> false, 3_000);
            assertTrue(c.closedByPeer(), "the abuser's connection is closed");
        }
        othersAreServed();
    }

    @Test
    void continuationFloodGetsGoAway() throws Exception {
        // One header block that never ends: CONTINUATION frames of header bytes past the list limit.
        try (H2Wire c = new H2Wire(port(), new Http2Settings())) {
            c.raw((byte) 0x1, 1, (short) 0x1, hpackLiteral("x-a", "a")); // HEADERS, END_STREAM, no END_HEADERS
            byte[] fragment = hpackLiteral("x-flood", "v".repeat(8000));
            for (int i = 0; i < 200 && c.flush(); i++) {
                c.raw((byte) 0x9, 1, (short) 0, fragment);
            }
            List<Frame> frames = c.read(f -> f.type().equals("GOAWAY"), 10_000);
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("GOAWAY")) || c.closedByPeer(), frames.toString());
            c.read(f -> false, 3_000);
            assertTrue(c.closedByPeer(), "the abuser's connection is closed");
        }
        // Empty CONTINUATION frames: the list never grows, only the work does.
        try (H2Wire c = new H2Wire(port(), new Http2Settings())) {
            c.raw((byte) 0x1, 1, (short) 0x1, hpackLiteral("x-a", "a"));
            c.send(H2Wire.frames(10_000, (byte) 0x9, 1, new byte[0]));
            List<Frame> frames = c.read(f -> f.type().equals("GOAWAY"), 10_000);
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("GOAWAY")) || c.closedByPeer(), frames.toString());
        }
        othersAreServed();
    }

    @Test
    void hpackBombIsRefusedBeforeItIsExpanded() throws Exception {
        // A 4000-byte value in the dynamic table, then a block naming it 1000 times: 4 MB decoded
        // from 1 KB sent, far past the 64 KiB header list limit.
        try (H2Wire c = new H2Wire(port(), new Http2Settings())) {
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            block.writeBytes(hpackRequestLine("/bomb"));
            block.writeBytes(hpackIndexedLiteral("x-bomb", "b".repeat(4000)));
            for (int i = 0; i < 1000; i++) {
                block.write(0x80 | 62); // indexed: the newest dynamic table entry
            }
            c.raw((byte) 0x1, 1, (short) 0x5, block.toByteArray()).flush(); // END_STREAM | END_HEADERS
            List<Frame> frames = c.read(f -> f.type().equals("GOAWAY") || f.type().equals("RST_STREAM")
                                             || f.status() != 0, 10_000);
            assertTrue(frames.stream().noneMatch(f -> f.status() == 200), frames.toString());
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("GOAWAY") || f.type().equals("RST_STREAM")
                                                     || f.status() == 431) || c.closedByPeer(), frames.toString());
        }
        othersAreServed();
    }

    @Test
    void pingAndSettingsFloodsFromAClientThatDoesNotReadEndItsConnection() throws Exception {
        for (boolean settings : new boolean[] {false, true}) {
            try (H2Wire c = new H2Wire(port(), new Http2Settings())) {
                // 1000 frames a write: an empty SETTINGS or a PING, each asking for an ack.
                byte[] burst = H2Wire.frames(1000, settings ? (byte) 0x4 : (byte) 0x6, 0,
                                             settings ? new byte[0] : new byte[8]);
                boolean open = true;
                for (int round = 0; round < 1000 && open; round++) {
                    open = c.send(burst);
                }
                // Its acks could not be sent: past max-queued-control-frames the connection is ended.
                c.read(f -> false, 2_000);
                assertTrue(!open || c.closedByPeer(), (settings ? "SETTINGS" : "PING") + " flood: still open");
            }
            othersAreServed();
        }
    }

    @Test
    void concurrentStreamsPastTheLimitAreRefused() throws Exception {
        try (H2Wire c = new H2Wire(port(), new Http2Settings().initialWindowSize(0))) {
            c.windowUpdate(0, 1 << 30);
            for (int i = 0; i < 130; i++) {
                c.headers(1 + 2 * i, get("/big"), true);
            }
            c.flush();
            List<Frame> frames = c.read(f -> f.type().equals("RST_STREAM") && f.code() == Http2Error.REFUSED_STREAM.code(),
                                        10_000);
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("RST_STREAM")
                                                     && f.code() == Http2Error.REFUSED_STREAM.code()
                                                     && f.stream() > 2 * 128), frames.toString());
        }
        othersAreServed();
    }

    // ---- HPACK by hand (RFC 7541), for blocks Netty's encoder would never write ----

    /** :method GET, :scheme http, :path {@code path}, :authority (static table, no indexing). */
    private static byte[] hpackRequestLine(String path) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x82); // :method GET
        b.write(0x86); // :scheme http
        b.writeBytes(literalWithNameIndex(4, path)); // :path
        b.writeBytes(literalWithNameIndex(1, "127.0.0.1")); // :authority
        return b.toByteArray();
    }

    private static byte[] literalWithNameIndex(int index, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(index); // 0000xxxx: literal without indexing, indexed name (index < 15)
        writeString(b, value);
        return b.toByteArray();
    }

    /** A literal field without indexing, new name. */
    private static byte[] hpackLiteral(String name, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x00);
        writeString(b, name);
        writeString(b, value);
        return b.toByteArray();
    }

    /** A literal field with incremental indexing (it enters the dynamic table), new name. */
    private static byte[] hpackIndexedLiteral(String name, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x40);
        writeString(b, name);
        writeString(b, value);
        return b.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream b, String s) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        writeInt(b, 0x00, 7, bytes.length);
        b.writeBytes(bytes);
    }

    private static void writeInt(ByteArrayOutputStream b, int mask, int prefix, int value) {
        int max = (1 << prefix) - 1;
        if (value < max) {
            b.write(mask | value);
            return;
        }
        b.write(mask | max);
        value -= max;
        while (value >= 128) {
            b.write((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        b.write(value);
    }
}
