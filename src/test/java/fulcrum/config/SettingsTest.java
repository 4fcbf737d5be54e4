package fulcrum.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SettingsTest {
    private static final String VALID = """
            fulcrum {
              listeners = [
                { name = public, bind = "0.0.0.0:8080", default-target-group = chat }
              ]
              target-groups {
                chat {
                  targets = ["127.0.0.1:3001", "127.0.0.1:3002"]
                  stickiness.enabled = true
                }
              }
            }
            """;

    @TempDir
    Path dir;

    private Path write(String text) throws IOException {
        Path f = dir.resolve("fulcrum.conf");
        Files.writeString(f, text);
        return f;
    }

    /** Loads {@code text} expecting failure; returns the message. */
    private String error(String text) throws IOException {
        Path f = write(text);
        return assertThrows(SettingsException.class, () -> FulcrumSettings.load(f)).getMessage();
    }

    @Test
    void bindsAValidFileWithDefaultsFromReference() throws IOException {
        FulcrumSettings s = FulcrumSettings.load(write(VALID));
        assertEquals(1, s.listeners().size());
        ListenerSettings l = s.listeners().get(0);
        assertEquals(new HostPort("0.0.0.0", 8080), l.bind());
        assertEquals(Duration.ofSeconds(60), l.idleTimeout());
        TargetGroupSettings g = s.targetGroups().get("chat");
        assertEquals(2, g.targets().size());
        assertEquals(new HostPort("127.0.0.1", 3002), g.targets().get(1).address());
        assertTrue(g.stickiness().enabled());
        assertEquals("FULCRUM", g.stickiness().cookieName());
        assertEquals(Duration.ofDays(1), g.stickiness().duration());
        assertEquals(TargetGroupSettings.Algorithm.ROUND_ROBIN, g.algorithm());
        assertEquals(TargetGroupSettings.ProtocolVersion.HTTP1, g.protocolVersion());
        assertEquals(Duration.ofSeconds(30), g.healthCheck().interval());
        assertEquals(5, g.healthCheck().healthyThreshold());
        assertTrue(g.healthCheck().matcher().matches(200));
        assertFalse(g.healthCheck().matcher().matches(204));
    }

    @Test
    void unknownKeyNamesKeyAndLine() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "stickiness.enabled = true\n      helth-check.interval = 5s"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.helth-check: "), m);
        assertTrue(m.contains("unknown"), m);
        assertTrue(m.endsWith("fulcrum.conf:9"), m);
    }

    @Test
    void unknownKeyInsideANestedObject() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "stickiness { enabled = true, cookie = X }"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.stickiness.cookie: X"), m);
    }

    @Test
    void unknownKeyInAListener() throws IOException {
        String m = error(VALID.replace("default-target-group = chat", "default-target-group = chat, port = 80"));
        assertTrue(m.startsWith("fulcrum.listeners[0].port: 80"), m);
        assertTrue(m.endsWith("fulcrum.conf:3"), m);
    }

    @Test
    void unknownTopLevelKey() throws IOException {
        String m = error(VALID + "\nfulcrm { io-threads = 2 }\n");
        assertTrue(m.startsWith("fulcrm: "), m);
    }

    @Test
    void theStickyCookieIsNotForwardedUnlessAsked() throws IOException {
        assertFalse(FulcrumSettings.load(write(VALID)).targetGroups().get("chat").stickiness().forwardCookie());
        FulcrumSettings s = FulcrumSettings.load(write(VALID.replace(
                "stickiness.enabled = true", "stickiness { enabled = true, forward-cookie = true }")));
        assertTrue(s.targetGroups().get("chat").stickiness().forwardCookie());
        String m = error(VALID.replace("stickiness.enabled = true", "stickiness { enabled = true, forward-cookie = yes-ish }"));
        assertEquals("fulcrum.target-groups.chat.stickiness.forward-cookie: yes-ish (expected: true or false) at "
                     + dir.resolve("fulcrum.conf") + ":8", m);
    }

    @Test
    void wrongTypeNamesWhatWasExpected() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "stickiness.enabled = maybe"));
        assertEquals("fulcrum.target-groups.chat.stickiness.enabled: maybe (expected: true or false) at "
                     + dir.resolve("fulcrum.conf") + ":8", m);
    }

    @Test
    void missingTargetGroupIsNamed() throws IOException {
        String m = error(VALID.replace("default-target-group = chat", "default-target-group = web"));
        assertTrue(m.startsWith("fulcrum.listeners[0].default-target-group: web (expected: the name of a target group (chat))"), m);
        assertTrue(m.endsWith("fulcrum.conf:3"), m);
    }

    @Test
    void zeroAndNegativeDurationsAreRejected() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "health-check.interval = 0s"));
        assertEquals("fulcrum.target-groups.chat.health-check.interval: 0s (expected: > 0) at "
                     + dir.resolve("fulcrum.conf") + ":8", m);
        m = error(VALID.replace("default-target-group = chat", "default-target-group = chat, idle-timeout = -5s"));
        assertTrue(m.startsWith("fulcrum.listeners[0].idle-timeout: -5s (expected: > 0)"), m);
        m = error(VALID.replace("stickiness.enabled = true", "connect-timeout = soon"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.connect-timeout: soon (expected: a duration"), m);
    }

    @Test
    void unparsableAddressesAreRejected() throws IOException {
        for (String bad : new String[] {"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":80", "::1:80", "a b:80"}) {
            String m = error(VALID.replace("\"127.0.0.1:3002\"", "\"" + bad + "\""));
            assertTrue(m.startsWith("fulcrum.target-groups.chat.targets[1]: "), m);
            assertTrue(m.contains(bad + (bad.contains(" ") ? "\"" : "") + " (expected: \"host:port\""), m);
            assertTrue(m.endsWith("fulcrum.conf:7"), m);
        }
        String m = error(VALID.replace("0.0.0.0:8080", "0.0.0.0"));
        assertTrue(m.startsWith("fulcrum.listeners[0].bind: 0.0.0.0 (expected: \"host:port\": no port)"), m);
    }

    @Test
    void duplicateTargetsAndListenersAreRejected() throws IOException {
        String m = error(VALID.replace("\"127.0.0.1:3002\"", "\"127.0.0.1:3001\""));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.targets[1]"), m);
        m = error(VALID.replace("""
                { name = public, bind = "0.0.0.0:8080", default-target-group = chat }""", """
                { name = public, bind = "0.0.0.0:8080", default-target-group = chat }
                    { name = public, bind = "0.0.0.0:8081", default-target-group = chat }"""));
        assertTrue(m.startsWith("fulcrum.listeners[1].name: public"), m);
    }

    @Test
    void weightedTargetsAndIpv6() throws IOException {
        FulcrumSettings s = FulcrumSettings.load(write(VALID.replace("\"127.0.0.1:3002\"",
                "{ address = \"[::1]:3002\", weight = 3 }")));
        TargetSpec t = s.targetGroups().get("chat").targets().get(1);
        assertEquals(new HostPort("::1", 3002), t.address());
        assertEquals(3, t.weight());
        assertEquals("[::1]:3002", t.address().toString());
        String m = error(VALID.replace("\"127.0.0.1:3002\"", "{ address = \"127.0.0.1:3002\", weight = 1000 }"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.targets[1].weight: 1000 (expected: between 0 and 999)"), m);
    }

    @Test
    void matcherAndEnumErrors() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "health-check.matcher = \"200-1000\""));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.health-check.matcher: 200-1000"), m);
        m = error(VALID.replace("stickiness.enabled = true", "algorithm = random"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.algorithm: random (expected: one of round-robin, "
                                + "least-outstanding-requests, least-connections)"), m);
        m = error(VALID.replace("stickiness.enabled = true", "protocol-version = http3"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.protocol-version: http3 (expected: one of http1, "
                                + "http2, grpc)"), m);
    }

    @Test
    void protocolVersion() throws IOException {
        FulcrumSettings s = FulcrumSettings.load(write(VALID.replace("stickiness.enabled = true", "protocol-version = grpc")));
        assertEquals(TargetGroupSettings.ProtocolVersion.GRPC, s.targetGroups().get("chat").protocolVersion());
    }

    @Test
    void slowStartAndOutlierDetectionErrors() throws IOException {
        String m = error(VALID.replace("stickiness.enabled = true", "slow-start = 20m"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.slow-start: 1200s (expected: 0 (off) to 15m)"), m);
        m = error(VALID.replace("stickiness.enabled = true",
                                "outlier-detection { base-ejection-time = 60s, max-ejection-time = 30s }"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.outlier-detection.max-ejection-time: 30000ms "
                                + "(expected: at least base-ejection-time (60000ms))"), m);
        m = error(VALID.replace("stickiness.enabled = true", "outlier-detection.max-ejection-percent = 101"));
        assertTrue(m.startsWith("fulcrum.target-groups.chat.outlier-detection.max-ejection-percent: 101"), m);
    }

    @Test
    void syntaxErrorNamesTheLine() throws IOException {
        String m = error("fulcrum {\n  listeners = [\n}\n");
        assertTrue(m.contains("fulcrum.conf: 3"), m);
    }

    @Test
    void missingFile() {
        String m = assertThrows(SettingsException.class, () -> FulcrumSettings.load(dir.resolve("nope.conf")))
                .getMessage();
        assertTrue(m.endsWith("nope.conf: no such file"), m);
    }

    @Test
    void environmentSubstitution() throws IOException {
        // ${?X} for a variable that is not set leaves the default (null: a generated secret).
        FulcrumSettings s = FulcrumSettings.load(write(VALID.replace("stickiness.enabled = true",
                "stickiness { enabled = true, secret = ${?FULCRUM_TEST_SECRET_THAT_IS_NOT_SET} }")));
        assertEquals(null, s.targetGroups().get("chat").stickiness().secret());
    }

    @Test
    void statusMatcher() {
        StatusMatcher m = StatusMatcher.parse("200-299, 302");
        assertTrue(m.matches(200));
        assertTrue(m.matches(299));
        assertTrue(m.matches(302));
        assertFalse(m.matches(301));
        assertFalse(m.matches(500));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("abc"));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("300-200"));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("99"));
    }

    @Test
    void cidr() throws Exception {
        Cidr c = Cidr.parse("10.0.0.0/8");
        assertTrue(c.contains(java.net.InetAddress.getByName("10.1.2.3")));
        assertFalse(c.contains(java.net.InetAddress.getByName("11.1.2.3")));
        assertTrue(Cidr.parse("::1").contains(java.net.InetAddress.getByName("::1")));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse("example.com"));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.0.0.0/33"));
    }
}
