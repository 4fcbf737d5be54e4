package fulcrum.socketio;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Socket.IO's long-polling transport over HTTP/2 (h2c), through Fulcrum, to the real chat servers
 * sharing Redis: every poll is a curl run of its own (a new connection each time), so only
 * Fulcrum's Engine.IO affinity, applied to HTTP/2 streams, keeps each session on its server.
 */
@Timeout(120)
class SocketIoOverHttp2Test {
    private static final Pattern SID = Pattern.compile("\"sid\":\"([^\"]+)\"");
    private static final Pattern SERVER = Pattern.compile("\\[\"welcome\",\\{\"server\":\"([^\"]+)\"");

    private ChatCluster cluster;
    private FulcrumFixture lb;

    @BeforeEach
    void start() throws Exception {
        String missing = ChatCluster.missingPrerequisite();
        assumeTrue(missing == null, () -> "Socket.IO tests skipped: " + missing);
        cluster = ChatCluster.start(2);
        lb = FulcrumFixture.forTargets("""
                health-check { path = "/health", interval = 300ms, timeout = 250ms }
                stickiness { enabled = true, type = engine-io }
                """, "127.0.0.1:" + cluster.port(0), "127.0.0.1:" + cluster.port(1));
    }

    @AfterEach
    void stop() {
        if (lb != null) {
            lb.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    /** One request over HTTP/2: its body, after checking it came as HTTP/2 with a 200. */
    private String h2(String path, String postBody) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "-m", "30", "--http2-prior-knowledge", "-w",
                                                   "\n%{http_version} %{http_code}"));
        if (postBody != null) {
            cmd.addAll(List.of("-H", "content-type: text/plain;charset=UTF-8", "--data-binary", postBody));
        }
        cmd.add(lb.url(path));
        Cli.Result r = Cli.run(40, cmd.toArray(String[]::new));
        String out = r.output();
        assertEquals(0, r.exit(), out);
        assertTrue(out.endsWith("\n2 200"), path + ": " + out);
        assertFalse(out.contains("Session ID unknown"), out);
        return out.substring(0, out.length() - "\n2 200".length());
    }

    private String poll(String sid) throws Exception {
        return h2("/socket.io/?EIO=4&transport=polling&sid=" + sid, null);
    }

    @Test
    void pollingSessionsOverHttp2StayOnTheirServerAndChatAcrossServers() throws Exception {
        List<String> sids = new ArrayList<>();
        List<String> servers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Matcher m = SID.matcher(h2("/socket.io/?EIO=4&transport=polling", null));
            assertTrue(m.find(), "handshake");
            String sid = m.group(1);
            assertEquals("ok", h2("/socket.io/?EIO=4&transport=polling&sid=" + sid, "40"));
            String welcome = poll(sid);
            Matcher w = SERVER.matcher(welcome);
            assertTrue(welcome.startsWith("40") && w.find(), welcome);
            sids.add(sid);
            servers.add(w.group(1));
        }
        assertEquals(Set.of(cluster.serverId(0), cluster.serverId(1)), new HashSet<>(servers),
                     "sessions spread over both servers");
        // The first session speaks; a session on the other server hears it (through Redis), on polls
        // of their own, each on a new HTTP/2 connection.
        int listener = servers.indexOf(servers.get(0).equals(cluster.serverId(0)) ? cluster.serverId(1)
                                                                                   : cluster.serverId(0));
        assertEquals("ok", h2("/socket.io/?EIO=4&transport=polling&sid=" + sids.get(0),
                              "42[\"chat\",{\"text\":\"over h2\"}]"));
        String heard = poll(sids.get(listener));
        assertTrue(heard.contains("\"text\":\"over h2\"") && heard.contains(servers.get(0)), heard);
        int learnt = lb.balancer().targetGroups().get("app").engineIo().size();
        assertTrue(learnt >= 4, "sessions learnt from HTTP/2 handshakes: " + learnt);
    }
}
