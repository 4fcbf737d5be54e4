package fulcrum.h2;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.WsEchoBackend;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every way a client's HTTP/2 connection is ended says GOAWAY first: a shutdown (open streams
 * finish, one sent after the GOAWAY is not served, a WebSocket stream is told "going away" at the
 * grace's end) and the idle timeout.
 */
@Timeout(120)
class Http2DrainTest {

    private static FulcrumFixture balancer(String target, String listenerExtra, String grace) {
        return FulcrumFixture.start("fulcrum { io-threads = 1, shutdown-grace = " + grace + "\n"
                                    + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app "
                                    + listenerExtra + " }]\n"
                                    + "target-groups.app { targets = [\"" + target + "\"], health-check.enabled = false } }");
    }

    /** A real client (nghttp) sees GOAWAY and its open stream still ends complete. */
    @Test
    void nghttpSeesGoAwayAndItsOpenStreamFinishes() throws Exception {
        try (HttpBackend backend = HttpBackend.start("a");
             FulcrumFixture lb = balancer(backend.address(), "", "20s")) {
            Path out = Files.createTempFile("nghttp", ".log");
            Process nghttp = new ProcessBuilder("nghttp", "-v", "-t", "30", lb.url("/drip?chunks=20&ms=100"))
                    .redirectErrorStream(true).redirectOutput(out.toFile()).start();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Files.readString(out).contains("chunk2") && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Thread stopper = new Thread(() -> lb.stop(Duration.ofSeconds(20)));
            stopper.start();
            assertTrue(nghttp.waitFor(30, TimeUnit.SECONDS), "nghttp ended");
            stopper.join(20_000);
            String log = Files.readString(out);
            Files.delete(out);
            assertEquals(0, nghttp.exitValue(), log);
            int goAway = log.indexOf("recv GOAWAY");
            assertTrue(goAway >= 0 && log.indexOf("error_code=NO_ERROR", goAway) > 0, log);
            assertTrue(log.indexOf("chunk19") > goAway, "the stream went on after the GOAWAY: " + log);
            assertTrue(log.contains("recv DATA frame") && log.contains("END_STREAM"), log);
        }
    }

    @Test
    void aStreamOpenedAfterTheGoAwayIsNotServedWhileTheOpenOneFinishes() throws Exception {
        try (HttpBackend backend = HttpBackend.start("a");
             FulcrumFixture lb = balancer(backend.address(), "", "20s");
             H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/drip?chunks=20&ms=100"), true).flush();
            c.read(f -> f.stream() == 1 && f.type().equals("DATA"), 10_000);
            Thread stopper = new Thread(() -> lb.stop(Duration.ofSeconds(20)));
            stopper.start();
            List<Frame> frames = new ArrayList<>(c.read(f -> f.type().equals("GOAWAY"), 10_000));
            Frame goAway = frames.get(frames.size() - 1);
            assertEquals("GOAWAY", goAway.type(), frames.toString());
            assertEquals(1, goAway.stream(), "the last stream taken");
            // A client that had not seen it yet opens another stream.
            c.headers(3, H2Wire.get(lb.port(), "/late"), true).flush();
            frames.addAll(c.read(f -> f.stream() == 1 && f.endStream(), 20_000));
            frames.addAll(c.read(f -> false, 3_000));
            assertTrue(frames.stream().anyMatch(f -> f.stream() == 1 && f.endStream()), frames.toString());
            assertFalse(frames.stream().anyMatch(f -> f.stream() == 3 && f.type().equals("HEADERS")),
                        "the late stream was not answered (the client retries it elsewhere): " + frames);
            assertTrue(c.closedByPeer(), "closed once the open stream ended");
            assertEquals(1, backend.requests(), "only the open stream reached the target");
            stopper.join(20_000);
        }
    }

    /** A WebSocket stream keeps working through the grace, then hears 1001 and END_STREAM before the close. */
    @Test
    void aWebSocketStreamIsToldGoingAwayAtTheGracesEnd() throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("w");
             FulcrumFixture lb = balancer(backend.address(), "", "2s");
             H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, new DefaultHttp2Headers().method("CONNECT").set(":protocol", "websocket").scheme("http")
                    .path("/ws").authority("127.0.0.1:" + lb.port()).add("sec-websocket-version", "13"), false).flush();
            c.read(f -> f.stream() == 1 && f.type().equals("DATA"), 10_000);
            long start = System.nanoTime();
            Thread stopper = new Thread(() -> lb.stop(Duration.ofSeconds(2)));
            stopper.start();
            List<Frame> frames = new ArrayList<>(c.read(f -> f.type().equals("GOAWAY"), 10_000));
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("GOAWAY") && f.code() == 0), frames.toString());
            // Still echoing during the grace.
            byte[] mask = {1, 2, 3, 4};
            byte[] text = "still here".getBytes(StandardCharsets.UTF_8);
            byte[] frame = new byte[6 + text.length];
            frame[0] = (byte) 0x81;
            frame[1] = (byte) (0x80 | text.length);
            System.arraycopy(mask, 0, frame, 2, 4);
            for (int i = 0; i < text.length; i++) {
                frame[6 + i] = (byte) (text[i] ^ mask[i % 4]);
            }
            c.data(1, frame, false).flush();
            List<Frame> echo = c.read(f -> f.stream() == 1 && f.type().equals("DATA"), 10_000);
            assertTrue(new String(data(echo), StandardCharsets.UTF_8).contains("still here"), echo.toString());
            List<Frame> end = c.read(f -> f.stream() == 1 && f.endStream(), 10_000);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertArrayEquals(new byte[]{(byte) 0x88, 0x02, 0x03, (byte) 0xe9}, data(end),
                              "a close frame 1001 going away: " + end);
            assertTrue(end.stream().anyMatch(f -> f.stream() == 1 && f.type().equals("DATA") && f.endStream()),
                       end.toString());
            assertTrue(ms >= 1_500, "at the grace's end, not before: " + ms + " ms");
            c.read(f -> false, 3_000);
            assertTrue(c.closedByPeer());
            stopper.join(20_000);
        }
    }

    @Test
    void theIdleTimeoutSaysGoAwayBeforeItCloses() throws Exception {
        try (HttpBackend backend = HttpBackend.start("a");
             FulcrumFixture lb = balancer(backend.address(), ", idle-timeout = 1s", "1s");
             H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/one"), true).flush();
            List<Frame> frames = new ArrayList<>(c.read(f -> f.stream() == 1 && f.endStream(), 10_000));
            frames.addAll(c.read(f -> false, 4_000));
            assertTrue(frames.stream().anyMatch(f -> f.type().equals("GOAWAY") && f.code() == Http2Error.NO_ERROR.code()
                                                     && f.stream() == 1), frames.toString());
            assertTrue(c.closedByPeer(), "closed after the GOAWAY");
        }
    }

    private static byte[] data(List<Frame> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Frame f : frames) {
            if (f.type().equals("DATA")) {
                out.writeBytes(f.data());
            }
        }
        return out.toByteArray();
    }
}
