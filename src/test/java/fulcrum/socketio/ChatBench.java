package fulcrum.socketio;

import fulcrum.testing.FulcrumFixture;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Chat servers sharing one Redis, started before each test (skipped where Node or Redis is
 * missing), the Fulcrum a test puts in front of them and the client harnesses it starts through
 * it; after the test, closed clients first, then the balancer, then the servers. For
 * {@code @RegisterExtension final ChatBench bench = new ChatBench(2);}
 */
final class ChatBench implements BeforeEachCallback, AfterEachCallback {
    private final int servers;
    private ChatCluster cluster;
    private FulcrumFixture balancer;
    private final List<ChatClients> harnesses = new ArrayList<>();

    ChatBench(int servers) {
        this.servers = servers;
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        String missing = ChatCluster.missingPrerequisite();
        assumeTrue(missing == null, () -> "Socket.IO tests skipped: " + missing);
        cluster = ChatCluster.start(servers);
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        for (ChatClients c : harnesses) {
            c.close();
        }
        harnesses.clear();
        if (balancer != null) {
            balancer.close();
            balancer = null;
        }
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }

    ChatCluster cluster() {
        return cluster;
    }

    /** The address of chat server {@code i}, as a target. */
    String target(int i) {
        return "127.0.0.1:" + cluster.port(i);
    }

    /** Fulcrum with {@code groupConfig} in front of {@code targets}; closed after the test. */
    FulcrumFixture balance(String groupConfig, String... targets) {
        balancer = FulcrumFixture.forTargets(groupConfig, targets);
        return balancer;
    }

    FulcrumFixture fulcrum() {
        return balancer;
    }

    /** {@code n} clients through the balancer (ChatClients.start), closed after the test. */
    ChatClients clients(int n, String transports, boolean cookies, int eio, int firstId) throws Exception {
        ChatClients c = ChatClients.start(balancer.url("/"), n, transports, cookies, eio, firstId);
        harnesses.add(c);
        return c;
    }

    /** How many client harnesses this test started so far. */
    int harnesses() {
        return harnesses.size();
    }
}
