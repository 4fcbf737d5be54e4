package fulcrum.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Health-check keys against the group's protocol-version: defaults, and the errors (key, file, line). */
class GrpcHealthSettingsTest {
    @TempDir
    Path dir;

    /** A file whose group "svc" has {@code group} on line 4. */
    private Path file(String group, String defaults) throws IOException {
        Path f = dir.resolve("fulcrum.conf");
        Files.writeString(f, "fulcrum {\n"
                             + "  listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = svc }]\n"
                             + "  target-group-defaults { " + defaults + " }\n"
                             + "  target-groups.svc { targets = [\"127.0.0.1:50051\"], " + group + " }\n"
                             + "}\n");
        return f;
    }

    private HealthCheckSettings load(String group) throws IOException {
        return FulcrumSettings.load(file(group, "")).targetGroups().get("svc").healthCheck();
    }

    private String error(String group) throws IOException {
        Path f = file(group, "");
        return assertThrows(SettingsException.class, () -> FulcrumSettings.load(f)).getMessage();
    }

    @Test
    void defaultsFollowTheProtocolVersion() throws IOException {
        HealthCheckSettings grpc = load("protocol-version = grpc");
        assertEquals("/grpc.health.v1.Health/Check", grpc.path());
        assertEquals("", grpc.grpcService());
        assertTrue(grpc.matcher().matches(0));
        assertFalse(grpc.matcher().matches(12));
        assertEquals("grpc", grpc.kind());

        HealthCheckSettings alb = load("protocol-version = grpc, health-check { path = /AWS.ALB/healthcheck, "
                                       + "grpc-codes = \"0-99\" }");
        assertNull(alb.grpcService(), "not the health service: judged by grpc-status alone");
        assertTrue(alb.matcher().matches(99));

        HealthCheckSettings h2 = load("protocol-version = http2");
        assertEquals("/", h2.path());
        assertTrue(h2.matcher().matches(200));
        assertNull(h2.grpcService());
        assertEquals("http2", h2.kind());
        assertEquals("http", load("").kind());
        assertEquals("tcp", load("protocol-version = grpc, health-check.protocol = tcp").kind());
    }

    @Test
    void grpcKeysOnAGroupThatIsNotGrpcAreErrors() throws IOException {
        String m = error("health-check.grpc-codes = \"12\"");
        assertEquals("fulcrum.target-groups.svc.health-check.grpc-codes: 12 (expected: no grpc-codes: it applies "
                     + "to target groups with protocol-version = grpc only) at " + dir.resolve("fulcrum.conf") + ":4", m);
        m = error("protocol-version = http2, health-check.grpc-service = my.Svc");
        assertTrue(m.startsWith("fulcrum.target-groups.svc.health-check.grpc-service: my.Svc (expected: no grpc-service"), m);
        assertTrue(m.endsWith("fulcrum.conf:4"), m);
    }

    @Test
    void anHttpMatcherOnAGrpcGroupIsAnError() throws IOException {
        String m = error("protocol-version = grpc, health-check.matcher = \"200\"");
        assertTrue(m.startsWith("fulcrum.target-groups.svc.health-check.matcher: 200 (expected: grpc-codes on a grpc "
                                + "target group"), m);
        assertTrue(m.endsWith("fulcrum.conf:4"), m);
    }

    @Test
    void badGrpcCodesAndServiceOffTheHealthPath() throws IOException {
        String m = error("protocol-version = grpc, health-check.grpc-codes = \"0-100\"");
        assertTrue(m.startsWith("fulcrum.target-groups.svc.health-check.grpc-codes: 0-100 (expected: grpc-status codes"
                                + " and ranges such as 0, 0-99 or 0,12 ('100' is not a grpc-status code from 0 to 99))"), m);
        m = error("protocol-version = grpc, health-check.grpc-codes = \"12-3\"");
        assertTrue(m.contains("runs backwards"), m);
        m = error("protocol-version = grpc, health-check { path = /AWS.ALB/healthcheck, grpc-service = my.Svc }");
        assertTrue(m.startsWith("fulcrum.target-groups.svc.health-check.grpc-service: my.Svc (expected: \"\": a service "
                                + "is asked about only on path /grpc.health.v1.Health/Check, and path is "
                                + "/AWS.ALB/healthcheck)"), m);
        m = error("protocol-version = grpc, health-check.path = \"AWS.ALB/healthcheck\"");
        assertTrue(m.contains("(expected: a gRPC method's path such as /grpc.health.v1.Health/Check)"), m);
    }

    @Test
    void groupDefaultsMayHoldBothMatchers() throws IOException {
        // Set for every group: each group uses the one its protocol-version needs, and neither is an error.
        FulcrumSettings s = FulcrumSettings.load(file("protocol-version = grpc",
                                                      "health-check { matcher = \"200-399\", grpc-codes = \"0,12\" }"));
        assertTrue(s.targetGroups().get("svc").healthCheck().matcher().matches(12));
        s = FulcrumSettings.load(file("", "health-check { matcher = \"200-399\", grpc-codes = \"0,12\" }"));
        assertTrue(s.targetGroups().get("svc").healthCheck().matcher().matches(302));
    }
}
