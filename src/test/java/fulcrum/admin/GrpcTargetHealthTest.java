package fulcrum.admin;

import fulcrum.testing.GrpcHealthServer;
import fulcrum.testing.H2cStatusServer;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Health checks of grpc and http2 target groups against real servers, as an operator sees them:
 * target states and reasons in the admin API's GET /targets.
 */
class GrpcTargetHealthTest {
    private static final int INTERVAL_MS = 1000;
    // Generous: the first calls of a cold JVM (both ends are in this one) on a loaded machine are slow.
    private static final String FAST = "interval = " + INTERVAL_MS + "ms, timeout = 900ms, healthy-threshold = 2, "
                                       + "unhealthy-threshold = 2";
    private static final Pattern TARGET = Pattern.compile(
            "\\{\"target\":\"([^\"]+)\",\"weight\":\\d+,\"state\":\"([^\"]+)\",\"reason\":\"([^\"]*)\"");

    @TempDir
    Path dir;

    @Test
    void aGrpcServerThatStopsServingIsTakenOutAndComesBack() throws Exception {
        try (GrpcHealthServer a = GrpcHealthServer.start(); GrpcHealthServer b = GrpcHealthServer.start();
             OpsFixture ops = OpsFixture.start(dir, OpsFixture.config(
                     "protocol-version = grpc, health-check { " + FAST + " }", a.address(), b.address()))) {
            awaitState(ops, a.address(), "healthy (SERVING)");
            awaitState(ops, b.address(), "healthy (SERVING)");

            long start = System.nanoTime();
            a.health().setStatus("", ServingStatus.NOT_SERVING);
            awaitState(ops, a.address(), "unhealthy (NOT_SERVING)");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // Two failed probes at most 1.1 intervals apart, after at most one interval of waiting.
            assertTrue(ms < 3 * INTERVAL_MS * 11 / 10 + 2000, "unhealthy after " + ms + " ms");
            assertEquals("healthy (SERVING)", state(ops, b.address()), "the other server is untouched");

            a.health().setStatus("", ServingStatus.SERVING);
            awaitState(ops, a.address(), "healthy (SERVING)");

            b.close();
            awaitState(ops, b.address(), "unhealthy (connection refused)");
            assertEquals("healthy (SERVING)", state(ops, a.address()));
            // The change log hears of a transition after the target's state is set: wait for it too.
            OpsFixture.await("state changes with NOT_SERVING and connection refused", () -> {
                String changes = ops.get("/state-changes").body();
                return changes.contains("NOT_SERVING") && changes.contains("connection refused");
            });
        }
    }

    @Test
    void albStyleGrpcCodesAndAnHttp2GroupOverH2c() throws Exception {
        try (GrpcHealthServer g = GrpcHealthServer.start(); H2cStatusServer h2 = new H2cStatusServer()) {
            String hocon = "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                           + "admin.bind = \"127.0.0.1:0\"\n"
                           + "listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = h2 }]\n"
                           + "target-groups {\n"
                           + "  unimplemented { targets = [\"" + g.address() + "\"], protocol-version = grpc\n"
                           + "    health-check { path = \"/AWS.ALB/healthcheck\", grpc-codes = \"12\", " + FAST + " } }\n"
                           + "  ok-only { targets = [\"" + g.address() + "\"], protocol-version = grpc\n"
                           + "    health-check { path = \"/AWS.ALB/healthcheck\", grpc-codes = \"0\", " + FAST + " } }\n"
                           + "  h2 { targets = [\"" + h2.address() + "\"], protocol-version = http2\n"
                           + "    health-check { path = /health, " + FAST + " } }\n"
                           + "} }\n";
            try (OpsFixture ops = OpsFixture.start(dir, hocon)) {
                awaitState(ops, "unimplemented", g.address(), "healthy (grpc-status 12 UNIMPLEMENTED)");
                awaitState(ops, "ok-only", g.address(), "unhealthy (grpc-status 12 UNIMPLEMENTED not in 0)");
                awaitState(ops, "h2", h2.address(), "healthy (status 200)");
                assertTrue(h2.requests.stream().allMatch("GET /health"::equals), h2.requests.toString());
                h2.status = 503;
                awaitState(ops, "h2", h2.address(), "unhealthy (status 503 not in 200)");
            }
        }
    }

    /** "state (reason)" of {@code target} in the only group. */
    private static String state(OpsFixture ops, String target) {
        return state(ops, "app", target);
    }

    private static String state(OpsFixture ops, String group, String target) {
        String body = ops.get("/targets").body();
        int at = body.indexOf("{\"name\":\"" + group + "\"");
        Matcher m = TARGET.matcher(body);
        while (at >= 0 && m.find(at)) {
            if (m.group(1).equals(target)) {
                return m.group(2) + " (" + m.group(3) + ")";
            }
            at = m.end();
        }
        return "(not in " + body + ")";
    }

    private static void awaitState(OpsFixture ops, String target, String expected) throws InterruptedException {
        awaitState(ops, "app", target, expected);
    }

    private static void awaitState(OpsFixture ops, String group, String target, String expected)
            throws InterruptedException {
        try {
            OpsFixture.await(target + " " + expected, () -> state(ops, group, target).equals(expected));
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; is " + state(ops, group, target), e);
        }
    }

}
