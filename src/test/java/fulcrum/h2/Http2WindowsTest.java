package fulcrum.h2;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A response's DATA keeps within the client's windows whether it goes out as soon as the target
 * sends it or waits in the flow controller, and both ways spend the same windows: a client that
 * opens only a few bytes gets exactly those, then the rest once it opens more.
 */
class Http2WindowsTest {
    private static HttpBackend backend;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        backend = HttpBackend.start("a");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = h2, bind = "127.0.0.1:0", default-target-group = app }]
                  target-groups.app { targets = ["%s"], health-check.enabled = false }
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

    private static long dataBytes(List<Frame> frames, int stream) {
        return frames.stream().filter(f -> f.stream() == stream && f.type().equals("DATA")).mapToLong(Frame::bytes).sum();
    }

    @Test
    void aStreamGetsWhatItsWindowHoldsThenTheRestOnceItOpens() throws Exception {
        // Ten pieces of 7 bytes ("chunkN\n"), 40 ms apart, against a stream window of 20: two go
        // out as they come (14 bytes), the third fits only in part and waits in the flow controller.
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings().initialWindowSize(20))) {
            c.windowUpdate(0, 1 << 30).headers(1, H2Wire.get(lb.port(), "/drip?chunks=10&ms=40"), true).flush();
            List<Frame> first = c.read(f -> false, 1500);
            assertEquals(20, dataBytes(first, 1), first.toString());
            assertTrue(first.stream().noneMatch(Frame::endStream), first.toString());
            c.windowUpdate(1, 1000).flush();
            List<Frame> rest = c.read(f -> f.stream() == 1 && f.endStream(), 10_000);
            assertEquals(50, dataBytes(rest, 1), rest.toString());
        }
    }

    @Test
    void theConnectionWindowHoldsAcrossStreams() throws Exception {
        // Eighty responses of 1,000 bytes each against the connection's initial 65,535-byte window
        // (the streams' own windows are wide): no more than the window before the client opens it.
        int streams = 80;
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings().initialWindowSize(1 << 20))) {
            for (int i = 0; i < streams; i++) {
                c.headers(1 + 2 * i, H2Wire.get(lb.port(), "/big?bytes=1000"), true);
            }
            c.flush();
            List<Frame> first = c.read(f -> false, 2000);
            long got = first.stream().filter(f -> f.type().equals("DATA")).mapToLong(Frame::bytes).sum();
            assertEquals(65_535, got, "DATA before the connection window opened");
            c.windowUpdate(0, 1 << 20).flush();
            long ended = first.stream().filter(Frame::endStream).count();
            List<Frame> rest = c.read(new java.util.function.Predicate<>() {
                private long ends = ended;

                @Override
                public boolean test(Frame f) {
                    return f.endStream() && ++ends == streams;
                }
            }, 10_000);
            got += rest.stream().filter(f -> f.type().equals("DATA")).mapToLong(Frame::bytes).sum();
            assertEquals(streams * 1000L, got, "every response, whole");
        }
    }
}
