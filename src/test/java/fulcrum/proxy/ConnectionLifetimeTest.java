package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import fulcrum.testing.WsEchoBackend;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How long client connections live: the listener's idle timeout closes keep-alive connections
 * and WebSocket tunnels that carry nothing, never those that carry traffic, and a closed
 * connection gives its place back under {@code max-connections}.
 */
class ConnectionLifetimeTest {

    private static FulcrumFixture balancer(String target, String listenerExtra) {
        return FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app, idle-timeout = 1s"
                + listenerExtra + " }]\n"
                + "target-groups.app { targets = [\"" + target + "\"], health-check.enabled = false } }");
    }

    @Test
    void anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeoutAndABusyOneIsNot() throws Exception {
        try (HttpBackend backend = HttpBackend.start("a");
             FulcrumFixture lb = balancer(backend.address(), "");
             RawClient idle = new RawClient(lb.port());
             RawClient busy = new RawClient(lb.port())) {
            idle.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(200, idle.read().status());
            long t0 = System.nanoTime();
            // The busy connection sends a request every 300 ms for 2.4 s, more than twice the timeout.
            for (int i = 0; i < 8; i++) {
                busy.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(200, busy.read().status(), "request " + i + " on the busy connection");
                Thread.sleep(300);
            }
            assertTrue(idle.closedByPeer(), "the idle connection was closed");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            // Closed no earlier than the timeout (and at most two sweep ticks, a fifth of it, later);
            // that was while the busy loop ran, so the read saw the end at once.
            assertTrue(ms >= 900, "closed after " + ms + " ms, before the 1 s idle timeout");
            busy.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(200, busy.read().status(), "the busy connection is still open");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"io-uring", "epoll", "nio"})
    void connectionsThatNeverOpenedLeaveNothingInThePool(String transport) throws Exception {
        int refused;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            refused = s.getLocalPort(); // closed again: connecting to it is refused
        }
        try (FulcrumFixture lb = FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s, transport = " + transport + "\n"
                + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:" + refused + "\"], health-check.enabled = false } }");
             RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 5; i++) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(503, c.read().status(), "request " + i); // the only target refused
            }
            // A refused connect never becomes active (no channelInactive): the pool forgets it as it closes.
            EventLoop loop = lb.balancer().loops().next();
            Target target = lb.balancer().targetGroups().get("app").snapshot().all().get(0);
            long deadline = System.nanoTime() + 3_000_000_000L;
            int busy;
            while ((busy = loop.submit(() -> lb.balancer().pools().forLoop(loop).busy(target)).get()) > 0
                   && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, busy, "connections left in the pool");
        }
    }

    @Test
    void anIdleWebSocketTunnelIsClosedOnBothSides() throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("w");
             FulcrumFixture lb = balancer(backend.address(), "");
             Socket s = new Socket("127.0.0.1", lb.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            readUntil(in, "hello from w");
            Target target = lb.balancer().targetGroups().get("app").snapshot().all().get(0);
            assertEquals(1, target.tunnels());
            long t0 = System.nanoTime();
            assertEquals(-1, readToEnd(in), "the client side of the tunnel was closed");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 800 && ms < 5000, "closed after " + ms + " ms for a 1 s idle timeout");
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (target.tunnels() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, target.tunnels(), "the tunnel ended on the backend side too");
        }
    }

    @Test
    void aClosedConnectionGivesItsPlaceBackUnderMaxConnections() throws Exception {
        try (HttpBackend backend = HttpBackend.start("m");
             FulcrumFixture lb = balancer(backend.address(), ", max-connections = 2")) {
            RawClient first = new RawClient(lb.port());
            try (RawClient second = new RawClient(lb.port())) {
                first.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(200, first.read().status());
                second.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(200, second.read().status());
                try (RawClient third = new RawClient(lb.port())) {
                    assertTrue(third.closedByPeer(), "a third connection is refused at the limit");
                }
                first.close();
                // The place comes back once the closed connection has left its event loop.
                RawClient next = null;
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (next == null && System.nanoTime() < deadline) {
                    RawClient c = new RawClient(lb.port());
                    try {
                        c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
                        RawClient.Response r = c.read();
                        if (r != null && r.status() == 200) {
                            next = c;
                            break;
                        }
                    } catch (IOException refused) {
                        // still at the limit
                    }
                    c.close();
                    Thread.sleep(20);
                }
                assertTrue(next != null, "a new connection is accepted after one closed");
                next.close();
                second.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals(200, second.read().status(), "the second connection is untouched");
            }
        }
    }

    private static void readUntil(InputStream in, String text) throws IOException {
        byte[] buf = new byte[4096];
        int n = 0;
        while (!new String(buf, 0, n, StandardCharsets.ISO_8859_1).contains(text)) {
            int r = in.read(buf, n, buf.length - n);
            assertTrue(r > 0, "the connection ended before " + text);
            n += r;
        }
    }

    /** Reads until the end of the stream: -1 at its end (a reset counts as an end). */
    private static int readToEnd(InputStream in) throws IOException {
        byte[] buf = new byte[4096];
        try {
            int r;
            while ((r = in.read(buf)) > 0) {
                // nothing else is expected, but nothing is lost by reading it
            }
            return r;
        } catch (java.net.SocketException reset) {
            return -1;
        }
    }
}
