package fulcrum.socketio;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.HostPort;
import fulcrum.config.TargetSpec;
import fulcrum.socketio.ChatClients.Client;
import fulcrum.testing.FulcrumFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scale-out with {@code algorithm = least-connections}: a chat server added while the first
 * holds every client takes the new sessions until it holds its share, where round-robin would
 * give it only half of them.
 */
@Timeout(240)
class LeastConnectionsTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int CLIENTS = 20;

    @RegisterExtension
    final ChatBench bench = new ChatBench(2);

    private List<Client> connect(int first) throws Exception {
        // Half keep polling-then-WebSocket sessions by sid, half WebSocket-only: both kinds count.
        ChatClients d = bench.clients(CLIENTS / 2, "default", false, 4, first);
        ChatClients w = bench.clients(CLIENTS / 2, "websocket", false, 4, first + 100);
        assertTrue(d.awaitReady(WAIT), () -> "not all connected: " + d.events());
        assertTrue(w.awaitReady(WAIT), () -> "not all connected: " + w.events());
        List<Client> all = new ArrayList<>(d.report().clients());
        all.addAll(w.report().clients());
        return all;
    }

    /** Sessions of 20 new clients that went to a target registered after 20 clients joined the first. */
    private long newSessionsOnTheAddedTarget(String algorithm) throws Exception {
        FulcrumFixture lb = bench.balance("""
                algorithm = %s
                stickiness { enabled = true, type = engine-io }
                health-check { path = "/health", interval = 500ms, timeout = 400ms }
                """.formatted(algorithm), bench.target(0));
        ChatCluster cluster = bench.cluster();
        TargetGroup group = lb.balancer().targetGroups().get("app");
        List<Client> before = connect(0);
        assertTrue(before.stream().allMatch(c -> cluster.serverId(0).equals(c.server())), before::toString);

        Target added = group.register(new TargetSpec(new HostPort("127.0.0.1", cluster.port(1)), 1));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (added.state() != HealthState.HEALTHY && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(HealthState.HEALTHY, added.state());

        List<Client> after = connect(1000);
        long onNew = after.stream().filter(c -> cluster.serverId(1).equals(c.server())).count();
        System.out.println(algorithm + ": " + onNew + " of " + CLIENTS + " new sessions on the added target; "
                           + "loads " + group.snapshot().all().stream().map(t -> t + "=" + t.connectionLoad()).toList());
        return onNew;
    }

    @Test
    void aTargetAddedAfterScaleOutTakesTheNewSessions() throws Exception {
        long onNew = newSessionsOnTheAddedTarget("least-connections");
        // All of them but for sessions that started while others had not yet counted.
        assertTrue(onNew >= CLIENTS * 3 / 4, onNew + " of " + CLIENTS + " new sessions on the added target");
    }

    @Test
    void roundRobinGivesTheAddedTargetOnlyItsTurns() throws Exception {
        long onNew = newSessionsOnTheAddedTarget("round-robin");
        assertTrue(onNew < CLIENTS * 3 / 4, "the check above can fail: " + onNew + " of " + CLIENTS);
    }
}
