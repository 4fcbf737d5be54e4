package fulcrum.health;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.WsEchoBackend;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A target that turns unhealthy while its TCP connections stay open (a hung process) must not
 * hold its clients: with on-unhealthy = close-connections their tunnels close at once, so they
 * reconnect to a live target; with keep they stay.
 */
class OnUnhealthyTest {

    private static Socket openTunnel(FulcrumFixture lb, String greeting) throws Exception {
        Socket s = new Socket("127.0.0.1", lb.port());
        s.setSoTimeout(5000);
        s.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        InputStream in = s.getInputStream();
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[4096];
        while (!got.toString().contains(greeting)) {
            int r = in.read(buf);
            assertTrue(r > 0, "tunnel ended early: " + got);
            got.append(new String(buf, 0, r, StandardCharsets.ISO_8859_1));
        }
        assertTrue(got.toString().startsWith("HTTP/1.1 101"), got.toString());
        return s;
    }

    private static boolean closedWithin(Socket s, long millis) throws Exception {
        s.setSoTimeout((int) millis);
        try {
            return s.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }

    private void run(String onUnhealthy, boolean expectClosed) throws Exception {
        // The health check probes a port of its own (TCP), so the test can fail it without touching the tunnel.
        ServerSocket health = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            while (!health.isClosed()) {
                try {
                    health.accept().close();
                } catch (Exception e) {
                    return;
                }
            }
        });
        acceptor.start();
        try (WsEchoBackend backend = new WsEchoBackend("hung");
             FulcrumFixture lb = FulcrumFixture.forTargets(
                     "health-check { protocol = tcp, port = " + health.getLocalPort() + ", interval = 200ms, "
                     + "timeout = 150ms, healthy-threshold = 1, unhealthy-threshold = 2, on-unhealthy = " + onUnhealthy
                     + " }", backend.address())) {
            Target t = lb.balancer().targetGroups().get("app").snapshot().all().get(0);
            long t0 = System.nanoTime();
            while (t.state() != HealthState.HEALTHY && System.nanoTime() - t0 < 5_000_000_000L) {
                Thread.sleep(20);
            }
            assertEquals(HealthState.HEALTHY, t.state());
            try (Socket tunnel = openTunnel(lb, "hello from hung")) {
                health.close();
                t0 = System.nanoTime();
                while (t.state() != HealthState.UNHEALTHY && System.nanoTime() - t0 < 5_000_000_000L) {
                    Thread.sleep(20);
                }
                assertEquals(HealthState.UNHEALTHY, t.state());
                assertEquals(expectClosed, closedWithin(tunnel, 2000),
                             "tunnel closed with on-unhealthy = " + onUnhealthy);
            }
        } finally {
            health.close();
            acceptor.join(2000);
        }
    }

    @Test
    void closeConnectionsClosesTunnelsOfAnUnhealthyTarget() throws Exception {
        run("close-connections", true);
    }

    @Test
    void keepLeavesThemOpen() throws Exception {
        run("keep", false);
    }
}
