package fulcrum.socketio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import fulcrum.socketio.ChatClients.Client;
import fulcrum.socketio.ChatClients.Report;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The chat fixtures on their own, with no balancer: clients straight on the servers, and the
 * Redis adapter carrying chat from one server's clients to the other's.
 */
@Timeout(120)
class ChatFixtureTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    // Per test rather than @BeforeAll, so that Surefire counts each test as skipped.
    @BeforeEach
    void prerequisites() {
        String missing = ChatCluster.missingPrerequisite();
        assumeTrue(missing == null, () -> "chat fixtures skipped: " + missing);
    }

    @Test
    void chatCrossesServersThroughRedis() throws Exception {
        try (ChatCluster cluster = ChatCluster.start(2);
                ChatClients polling = ChatClients.start(cluster.url(0), 2, "polling", false, 4, 0);
                ChatClients websocket = ChatClients.start(cluster.url(0), 2, "websocket", false, 4, 10);
                ChatClients eio3 = ChatClients.start(cluster.url(0), 1, "default", false, 3, 20);
                ChatClients remote = ChatClients.start(cluster.url(1), 1, "default", false, 4, 30)) {
            for (ChatClients group : List.of(polling, websocket, eio3, remote)) {
                assertTrue(group.awaitReady(WAIT), () -> "not all connected: " + group.events());
            }

            polling.sendChat();
            websocket.sendChat();
            eio3.sendChat();
            List<Integer> senders = List.of(0, 1, 10, 11, 20);
            for (ChatClients group : List.of(polling, websocket, eio3, remote)) {
                assertTrue(group.awaitReceivedFrom(senders, WAIT),
                        () -> "chat did not reach every client: " + group.events());
            }

            assertGroup(polling.report(), cluster.serverId(0), "polling", senders);
            assertGroup(websocket.report(), cluster.serverId(0), "websocket", senders);
            assertGroup(eio3.report(), cluster.serverId(0), null, senders);
            // Only Redis joins server 2's client to what server 1's clients said.
            assertGroup(remote.report(), cluster.serverId(1), null, senders);
        }
    }

    @Test
    void clientsReconnectToARestartedServer() throws Exception {
        try (ChatCluster cluster = ChatCluster.start(1);
                ChatClients clients = ChatClients.start(cluster.url(0), 2, "default", false, 4)) {
            assertTrue(clients.awaitReady(WAIT), () -> "not all connected: " + clients.events());
            int connectedBefore = connectedEvents(clients);

            cluster.kill(0);
            assertTrue(clients.awaitCondition(list -> list.stream()
                    .filter(e -> "disconnected".equals(e.get("event"))).count() >= 2, WAIT),
                    () -> "no disconnects after a kill: " + clients.events());
            cluster.restart(0);

            assertTrue(clients.awaitCondition(list -> list.stream()
                    .filter(e -> "connected".equals(e.get("event"))).count() >= connectedBefore + 2,
                    WAIT), () -> "no reconnect after a restart: " + clients.events());
            Report report = clients.report();
            assertTrue(report.allConnected(), () -> "after restart: " + report);
            assertEquals(Set.of(cluster.serverId(0)), report.servers());
        }
    }

    private static int connectedEvents(ChatClients clients) {
        return (int) clients.events().stream()
                .filter(e -> "connected".equals(e.get("event"))).count();
    }

    private static void assertGroup(Report report, String server, String transport,
            List<Integer> senders) {
        for (Client c : report.clients()) {
            assertTrue(c.connected(), () -> "client " + c.client() + " not connected: " + c);
            assertEquals(server, c.server(), () -> "client " + c.client() + ": " + c);
            if (transport != null) {
                assertEquals(transport, c.transport(), () -> "client " + c.client() + ": " + c);
            }
            assertEquals(List.of(), c.connectErrors(), () -> "client " + c.client() + ": " + c);
            assertEquals(Map.of(), c.cookies(), () -> "client " + c.client() + " kept cookies");
            for (int s : senders) {
                assertEquals(1, c.receivedFrom(s),
                        () -> "client " + c.client() + " from " + s + ": " + c.received());
            }
        }
    }
}
