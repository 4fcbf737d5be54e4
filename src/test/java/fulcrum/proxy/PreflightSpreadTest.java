package fulcrum.proxy;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import fulcrum.testing.TwoBackends;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * A cross-origin page sends a CORS preflight (OPTIONS, never with cookies) before each new
 * Socket.IO session's first polling request. If the preflight took a round-robin turn, with one
 * per session every session would land on the same target. Only requests that start a session
 * advance the choice of target for sessions.
 */
class PreflightSpreadTest {
    private static final int SESSIONS = 20;
    private static final String HANDSHAKE = "/socket.io/?EIO=4&transport=polling&t=x";

    @RegisterExtension
    final TwoBackends backends = new TwoBackends();

    @ParameterizedTest
    @ValueSource(strings = {"lb-cookie", "engine-io", "lb-cookie-and-engine-io"})
    void onePreflightPerSessionStillSpreadsSessionsEvenly(String type) throws Exception {
        FulcrumFixture lb = backends.balance("health-check.enabled = false\nstickiness { enabled = true, type = "
                                             + type + " }");
        Map<String, Integer> sessions = new TreeMap<>();
        for (int i = 0; i < SESSIONS; i++) {
            try (RawClient c = new RawClient(lb.port())) {
                c.send("OPTIONS " + HANDSHAKE + " HTTP/1.1\r\nHost: chat.example\r\nOrigin: https://app.example\r\n"
                       + "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-token\r\n\r\n");
                RawClient.Response preflight = c.read();
                assertEquals(200, preflight.status());
                assertNull(preflight.header("set-cookie"), "a preflight gets no sticky cookie: browsers drop it");
                c.send("GET " + HANDSHAKE + " HTTP/1.1\r\nHost: chat.example\r\nOrigin: https://app.example\r\n\r\n");
                sessions.merge(c.read().body(), 1, Integer::sum);
            }
        }
        assertEquals(Map.of("a", SESSIONS / 2, "b", SESSIONS / 2), sessions);
    }
}
