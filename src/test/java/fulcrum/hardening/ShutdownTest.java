package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A graceful stop with traffic in every state: an in-flight slow request finishes and is told
 * the connection closes; an idle keep-alive connection is closed at once; new connections are
 * refused; a WebSocket tunnel is closed when the grace ends.
 */
class ShutdownTest {
    private RawBackend backend;
    private FulcrumFixture lb;

    private static void script(RawBackend.Conn c) throws IOException {
        RawBackend.Request r;
        while ((r = c.readRequest()) != null) {
            String path = r.requestLine().split(" ")[1];
            if (path.equals("/slow")) {
                sleep(1000);
                c.write(RawBackend.OK);
            } else if (path.equals("/ws")) {
                c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Accept: x\r\n\r\n");
                // A text frame "hi", then the tunnel stays open.
                c.write("\u0081\u0002hi");
                c.socket.getInputStream().skip(Long.MAX_VALUE);
                return;
            } else {
                c.write(RawBackend.OK);
            }
        }
    }

    @BeforeEach
    void start() throws IOException {
        backend = new RawBackend(ShutdownTest::script);
        lb = FulcrumFixture.start(
                "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
    }

    @AfterEach
    void stop() throws IOException {
        lb.close();
        backend.close();
    }

    @Test
    void inFlightFinishesIdleClosesNewRefusedTunnelClosedAtGraceEnd() throws Exception {
        int port = lb.port();
        try (RawClient idle = new RawClient(port);
             RawClient busy = new RawClient(port);
             Socket ws = new Socket()) {
            ws.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            ws.setSoTimeout(10_000);
            idle.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(200, idle.read().status());
            ws.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes());
            String head = readHead(ws.getInputStream());
            assertTrue(head.startsWith("HTTP/1.1 101"), head);
            busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
            waitFor(() -> backend.requests().stream().anyMatch(r -> r.requestLine().contains("/slow")));

            long t = System.nanoTime();
            CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> lb.stop(Duration.ofMillis(2500)));

            assertTrue(idle.closedByPeer(), "an idle keep-alive connection is closed at once");
            assertTrue(ms(t) < 1000, "idle closed in " + ms(t) + " ms");
            assertThrows(ConnectException.class, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                }
            }, "new connections are refused once the stop began");

            RawClient.Response slow = busy.read();
            assertEquals(200, slow.status());
            assertEquals("close", slow.header("Connection"), "the in-flight response says the connection closes");
            assertTrue(busy.closedByPeer());

            // The tunnel lives through the grace period, then is closed.
            byte[] frame = ws.getInputStream().readNBytes(4);
            assertEquals("\u0081\u0002hi", new String(frame, java.nio.charset.StandardCharsets.ISO_8859_1));
            // Between frames when the grace ended: a close frame 1001 "going away", then the close.
            byte[] close = ws.getInputStream().readNBytes(4);
            assertEquals("88 02 03 e9", io.netty.buffer.ByteBufUtil.hexDump(close).replaceAll("(..)(?!$)", "$1 "));
            assertEquals(-1, ws.getInputStream().read(), "the tunnel is closed when the grace ends");
            long closedAfter = ms(t);
            assertTrue(closedAfter >= 2000 && closedAfter < 5000, "tunnel closed at the grace end: " + closedAfter);
            stopped.get(10, TimeUnit.SECONDS);
        }
    }

    private static String readHead(java.io.InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        while (!b.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            b.append((char) c);
        }
        return b.toString();
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }

    private static void waitFor(java.util.function.BooleanSupplier cond) throws InterruptedException {
        long end = System.nanoTime() + 5_000_000_000L;
        while (!cond.getAsBoolean() && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        assertTrue(cond.getAsBoolean());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
