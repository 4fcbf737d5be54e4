package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clients that trickle a request head: each is answered 408 and closed after the header
 * timeout, and while 200 of them trickle, a normal client is still answered promptly.
 */
class SlowlorisTest {
    private static final int TRICKLERS = 200;
    private RawBackend backend;
    private FulcrumFixture lb;

    @BeforeEach
    void start() throws IOException {
        backend = new RawBackend(RawBackend.RECORDER);
        lb = FulcrumFixture.start(
                "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app, header-timeout = 1s }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
    }

    @AfterEach
    void stop() throws IOException {
        lb.close();
        backend.close();
    }

    @Test
    void aTricklingHeadGets408AndIsClosed() throws Exception {
        try (RawClient c = new RawClient(lb.port())) {
            long t = System.nanoTime();
            c.send("GET / HTTP/1.1\r\n");
            RawClient.Response[] got = new RawClient.Response[1];
            Thread reader = new Thread(() -> {
                try {
                    got[0] = c.read();
                } catch (IOException e) {
                    // checked below
                }
            });
            reader.start();
            for (int i = 0; i < 20 && reader.isAlive(); i++) {
                Thread.sleep(200);
                try {
                    c.send("X");
                } catch (IOException e) {
                    break; // closed by the balancer
                }
            }
            reader.join(5000);
            long ms = (System.nanoTime() - t) / 1_000_000;
            assertEquals(408, got[0].status());
            assertTrue(ms >= 900 && ms < 3000, "answered after the header timeout: " + ms + " ms");
            assertTrue(c.closedByPeer());
        }
        assertEquals(0, backend.bytesReceived());
    }

    @Test
    void manyTricklersDoNotSlowANormalClient() throws Exception {
        List<Socket> tricklers = new ArrayList<>();
        try (RawClient normal = new RawClient(lb.port())) {
            long before = maxLatency(normal, 5);
            for (int i = 0; i < TRICKLERS; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", lb.port()), 5000);
                s.getOutputStream().write("GET /slow HTTP/1.1\r\n".getBytes());
                tricklers.add(s);
            }
            long accepted = System.nanoTime() + 3_000_000_000L;
            while (lb.balancer().openConnections() < TRICKLERS + 1 && System.nanoTime() < accepted) {
                Thread.sleep(20);
            }
            assertEquals(TRICKLERS + 1, lb.balancer().openConnections(), "tricklers connected");
            long worst = 0;
            int closed = 0;
            long end = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < end) {
                closed = 0;
                for (Socket s : tricklers) {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write('X');
                        out.flush();
                    } catch (IOException e) {
                        closed++;
                    }
                }
                worst = Math.max(worst, maxLatency(normal, 1));
                Thread.sleep(200);
            }
            assertTrue(worst < 1000, "normal client answered within 1 s while trickled (worst " + worst
                                     + " ms, before " + before + " ms)");
            // The header timeout closed them all: their connections are gone from the balancer.
            long deadline = System.nanoTime() + 3_000_000_000L;
            while (lb.balancer().openConnections() > 1 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(1, lb.balancer().openConnections(), "only the normal client is left");
            assertTrue(closed > 0, "tricklers saw their connections closed");
            assertTrue(maxLatency(normal, 3) < 1000, "still answered after");
        } finally {
            for (Socket s : tricklers) {
                s.close();
            }
        }
        assertTrue(backend.requests().stream().noneMatch(r -> r.requestLine().contains("/slow")));
    }

    /** Sends {@code n} requests on the normal client, checks each answer, returns the slowest in ms. */
    private static long maxLatency(RawClient c, int n) throws IOException {
        long worst = 0;
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            c.send("GET /normal HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("ok", r.body());
            worst = Math.max(worst, (System.nanoTime() - t) / 1_000_000);
        }
        return worst;
    }
}
