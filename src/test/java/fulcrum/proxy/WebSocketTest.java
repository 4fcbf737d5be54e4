package fulcrum.proxy;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.WsEchoBackend;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A real WebSocket client through the balancer's tunnel to a real WebSocket echo server. */
class WebSocketTest {

    /** Collects what the client receives, fragments kept apart. */
    private static final class Recorder implements WebSocket.Listener {
        final BlockingQueue<String> events = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            events.add("text:" + data + (last ? "" : "…"));
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            events.add("binary:" + b.length + ":" + java.util.Arrays.hashCode(b));
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            events.add("pong:" + java.nio.charset.StandardCharsets.UTF_8.decode(message));
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            closed.completeExceptionally(error);
        }

        String next() throws InterruptedException {
            String e = events.poll(10, TimeUnit.SECONDS);
            assertTrue(e != null, "nothing received in 10 s");
            return e;
        }
    }

    @Test
    void echoTextBinaryFragmentsPingAndCloseThroughTheTunnel() throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("ws1");
             FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false", backend.address())) {
            Recorder r = new Recorder();
            WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + lb.port() + "/ws"), r).get(10, TimeUnit.SECONDS);
            assertEquals("text:hello from ws1", r.next());

            ws.sendText("hello", true).get(5, TimeUnit.SECONDS);
            assertEquals("text:hello", r.next());

            byte[] blob = new byte[200_000];
            new java.util.Random(7).nextBytes(blob);
            ws.sendBinary(ByteBuffer.wrap(blob), true).get(5, TimeUnit.SECONDS);
            String bin = r.next();
            // A large message may arrive in several parts; the echo is checked whole.
            StringBuilder got = new StringBuilder(bin);
            assertTrue(bin.startsWith("binary:"), bin);

            ws.sendText("frag", false).get(5, TimeUnit.SECONDS);
            ws.sendText("mented", true).get(5, TimeUnit.SECONDS);
            String f1 = r.next();
            while (f1.startsWith("binary:")) {
                got.append(',').append(f1);
                f1 = r.next();
            }
            assertBinaryEcho(blob, got.toString());
            assertEquals("text:frag…", f1);
            assertEquals("text:mented", r.next());

            ws.sendPing(ByteBuffer.wrap("are you there".getBytes())).get(5, TimeUnit.SECONDS);
            assertEquals("pong:are you there", r.next());

            ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
            assertEquals(WebSocket.NORMAL_CLOSURE, r.closed.get(10, TimeUnit.SECONDS));
        }
    }

    private static void assertBinaryEcho(byte[] sent, String parts) {
        int total = 0;
        for (String p : parts.split(",")) {
            total += Integer.parseInt(p.split(":")[1]);
        }
        assertEquals(sent.length, total, parts);
        if (!parts.contains(",")) {
            assertEquals("binary:" + sent.length + ":" + java.util.Arrays.hashCode(sent), parts);
        }
    }

    @Test
    void backendClosingClosesTheClient() throws Exception {
        WsEchoBackend backend = new WsEchoBackend("ws2");
        try (FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false", backend.address());
             java.net.Socket s = new java.net.Socket("127.0.0.1", lb.port())) {
            // A hand-made handshake, so that what the client sees is read off the socket itself.
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            java.io.InputStream in = s.getInputStream();
            String received = new String(in.readNBytes(12), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertEquals("HTTP/1.1 101", received);
            byte[] rest = new byte[4096];
            int n = 0;
            while (!new String(rest, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1).contains("hello from ws2")) {
                int r = in.read(rest, n, rest.length - n);
                assertTrue(r > 0, "the tunnel ended before the backend's greeting");
                n += r;
            }
            backend.close(); // its event loop ends: every connection it had closes
            long t0 = System.nanoTime();
            int r;
            try {
                while ((r = in.read(rest)) > 0) {
                    // drain anything the backend sent while closing
                }
            } catch (java.net.SocketException reset) {
                r = -1;
            }
            assertEquals(-1, r);
            assertTrue(System.nanoTime() - t0 < 3_000_000_000L, "client closed promptly");
        }
    }

    @Test
    void plainRequestsStillWorkBesideTunnels() throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("ws3");
             FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false", backend.address())) {
            Recorder r = new Recorder();
            WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + lb.port() + "/ws"), r).get(10, TimeUnit.SECONDS);
            assertEquals("text:hello from ws3", r.next());
            assertArrayEquals(new int[] {1}, new int[] {lb.balancer().targetGroups().get("app").snapshot().all()
                                                             .get(0).tunnels()});
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
            r.closed.get(10, TimeUnit.SECONDS);
        }
    }
}
