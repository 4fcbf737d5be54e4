package fulcrum.h2;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A shutdown tells HTTP/2 clients GOAWAY and lets their open streams finish. */
class Http2ShutdownTest {
    private HttpBackend backend;
    private FulcrumFixture lb;

    @BeforeEach
    void start() throws Exception {
        backend = HttpBackend.start("a");
        lb = FulcrumFixture.forTargets("health-check.enabled = false", backend.address());
    }

    @AfterEach
    void stop() {
        lb.close();
        backend.close();
    }

    @Test
    void shutdownSendsGoAwayAndOpenStreamsFinish() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            // 20 chunks 100 ms apart: the response is still streaming when the stop begins.
            c.headers(1, H2Wire.get(lb.port(), "/drip?chunks=20&ms=100"), true).flush();
            List<Frame> head = c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000);
            assertTrue(head.stream().anyMatch(f -> f.status() == 200), head.toString());
            Thread stopper = new Thread(() -> lb.stop(Duration.ofSeconds(20)));
            long start = System.nanoTime();
            stopper.start();
            List<Frame> rest = c.read(f -> f.stream() == 1 && f.endStream(), 20_000);
            int goAway = indexOf(rest, "GOAWAY");
            int end = rest.size() - 1;
            assertTrue(goAway >= 0 && rest.get(goAway).code() == Http2Error.NO_ERROR.code(), rest.toString());
            assertEquals(1, rest.get(goAway).stream(), "the last stream taken is the open one");
            assertTrue(goAway < end && rest.get(end).endStream(), "GOAWAY first, then the stream's end: " + rest);
            long bytes = rest.stream().filter(f -> f.stream() == 1 && f.type().equals("DATA")).mapToLong(Frame::bytes)
                    .sum() + head.stream().filter(f -> f.type().equals("DATA")).mapToLong(Frame::bytes).sum();
            assertEquals(10 * 7 + 10 * 8, bytes, "every chunk (chunk0\\n .. chunk19\\n)");
            c.read(f -> false, 5_000);
            assertTrue(c.closedByPeer(), "closed once its last stream ended");
            stopper.join(20_000);
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertTrue(seconds < 15, "the stop did not wait for the grace's end: " + seconds + " s");
        }
    }

    private static int indexOf(List<Frame> frames, String type) {
        for (int i = 0; i < frames.size(); i++) {
            if (frames.get(i).type().equals(type)) {
                return i;
            }
        }
        return -1;
    }
}
