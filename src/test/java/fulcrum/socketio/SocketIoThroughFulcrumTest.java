package fulcrum.socketio;

import fulcrum.socketio.ChatClients.Client;
import fulcrum.socketio.ChatClients.Report;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scenario users come with: two Socket.IO servers sharing one Redis, behind Fulcrum, with
 * real socket.io-client clients of every kind. Everything runs for real on loopback.
 */
@Timeout(180)
class SocketIoThroughFulcrumTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @RegisterExtension
    final ChatBench bench = new ChatBench(2);

    private void startBalancer(String stickiness) {
        bench.balance("""
                health-check { path = "/health", interval = 300ms, timeout = 250ms,
                               healthy-threshold = 2, unhealthy-threshold = 2 }
                """ + stickiness, bench.target(0), bench.target(1));
    }

    private ChatClients clients(int n, String transports, boolean cookies, int eio) throws Exception {
        return bench.clients(n, transports, cookies, eio, bench.harnesses() * 100);
    }

    /** Every client connects, chats, and hears every other client through the Redis adapter. */
    private void assertChatWorks(List<ChatClients> groups) throws Exception {
        List<Integer> senders = new ArrayList<>();
        for (ChatClients g : groups) {
            assertTrue(g.awaitReady(WAIT), () -> "not all connected: " + g.events());
            senders.addAll(g.clientIds());
        }
        for (ChatClients g : groups) {
            g.sendChat();
        }
        Set<String> servers = new HashSet<>();
        for (ChatClients g : groups) {
            assertTrue(g.awaitReceivedFrom(senders, WAIT), () -> "chat did not reach every client: " + g.events());
            Report r = g.report();
            for (Client c : r.clients()) {
                assertTrue(c.connected(), () -> "not connected: " + c);
                assertEquals(List.of(), c.connectErrors(), () -> "client " + c.client() + ": " + c);
                servers.add(c.server());
            }
        }
        assertEquals(Set.of(bench.cluster().serverId(0), bench.cluster().serverId(1)), servers,
                     "clients spread over both servers");
    }

    @Test
    void engineIoAffinityServesClientsThatKeepNoCookies() throws Exception {
        startBalancer("stickiness { enabled = true, type = engine-io }");
        assertChatWorks(List.of(clients(4, "default", false, 4), clients(4, "polling", false, 4),
                                clients(4, "websocket", false, 4)));
        int learnt = bench.fulcrum().balancer().targetGroups().get("app").engineIo().size();
        // 8 polling handshakes and 4 WebSocket-first ones, whose sid comes in the tunnel's first frame.
        assertTrue(learnt >= 12, "sessions learnt: " + learnt);
    }

    @Test
    void engineIoAffinityServesSocketIo2Clients() throws Exception {
        startBalancer("stickiness { enabled = true, type = engine-io }");
        assertChatWorks(List.of(clients(4, "default", false, 3), clients(4, "polling", false, 3)));
    }

    @Test
    void lbCookieServesClientsThatKeepCookies() throws Exception {
        startBalancer("stickiness { enabled = true, type = lb-cookie, secret = \"socket-io-test-secret\" }");
        assertChatWorks(List.of(clients(4, "default", true, 4), clients(4, "polling", true, 4),
                                clients(4, "websocket", true, 4)));
    }

    @Test
    void withoutAffinityPollingClientsGetSessionIdUnknown() throws Exception {
        startBalancer("stickiness.enabled = false");
        ChatClients polling = clients(4, "polling", false, 4);
        // The failure every other balancer shows without affinity: proof the tests above test something.
        assertTrue(polling.awaitEvent(e -> "connect_error".equals(e.get("event"))
                                           && String.valueOf(e.get("body")).contains("Session ID unknown"), WAIT)
                          .isPresent(), () -> "expected Session ID unknown: " + polling.events());
    }

    @Test
    void clientsOfAStoppedServerMoveToTheOtherAndComeBackSpread() throws Exception {
        startBalancer("stickiness { enabled = true, type = lb-cookie-and-engine-io }");
        ChatClients first = clients(8, "default", false, 4);
        assertChatWorks(List.of(first));

        bench.cluster().kill(0);
        long t0 = System.nanoTime();
        String survivor = bench.cluster().serverId(1);
        Report moved = null;
        while (System.nanoTime() - t0 < WAIT.toNanos()) {
            Report r = first.report();
            if (r.allConnected() && r.servers().equals(Set.of(survivor))) {
                moved = r;
                break;
            }
            Thread.sleep(200);
        }
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertTrue(moved != null, () -> "clients did not all move to " + survivor + ": " + first.events());
        assertTrue(seconds <= 10, "clients moved after " + seconds + " s");
        first.sendChat();
        assertTrue(first.awaitReceivedFrom(first.clientIds(), WAIT), () -> "chat after failover: " + first.events());

        bench.cluster().restart(0);
        var group = bench.fulcrum().balancer().targetGroups().get("app");
        long t1 = System.nanoTime();
        while (group.snapshot().routableCount() < 2 && System.nanoTime() - t1 < WAIT.toNanos()) {
            Thread.sleep(100);
        }
        assertEquals(2, group.snapshot().routableCount(), "the restarted server is healthy again");
        assertChatWorks(List.of(clients(6, "default", false, 4)));
    }
}
