package fulcrum.admin;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Without cluster.redis nothing of the cluster runs; with a Redis that is not there, the instance still starts and serves. */
class ClusterOffAndUnreachableTest {
    @TempDir
    Path dir;

    private static boolean lettuceThreads() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("lettuce"));
    }

    @Test
    void withoutARedisNothingOfTheClusterRuns() {
        try (OpsFixture f = OpsFixture.start(dir, OpsFixture.config("", "127.0.0.1:9"))) {
            assertEquals("{\"status\":\"ok\"}\n", f.get("/healthz").body());
            assertFalse(f.get("/targets").body().contains("\"cluster\""));
            assertFalse(f.get("/metrics").body().contains("fulcrum_cluster_"));
            assertFalse(lettuceThreads(), "a Redis client thread without cluster.redis");
        }
    }

    @Test
    void aRedisThatIsNotThereDoesNotStopTheStartAndIsSaidOnce() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: connections are refused
        }
        String conf = OpsFixture.config("", "127.0.0.1:9").replaceFirst("\\} \\}\\n$", "}\ncluster { redis = \"redis://127.0.0.1:"
                + port + "/0\", connect-timeout = 500ms, command-timeout = 500ms, retry-min = 100ms, retry-max = 200ms }\n}\n");
        long t0 = System.nanoTime();
        try (OpsFixture f = OpsFixture.start(dir, conf)) {
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 15_000, "started in " + ms + " ms");
            OpsFixture.await("healthz says redis is down", () -> f.get("/healthz").body().contains("\"redis\":\"down\""));
            String health = f.get("/healthz").body();
            assertTrue(health.startsWith("{\"status\":\"ok\""), "still serving: " + health);
            assertTrue(f.get("/metrics").body().contains("fulcrum_cluster_redis_up 0.0"));
            Thread.sleep(1_000); // several reconnect attempts
            assertTrue(f.get("/metrics").body().contains("fulcrum_cluster_redis_outages_total 1.0"),
                       "one outage however many attempts");
            assertTrue(lettuceThreads());
        }
        OpsFixture.await("the Redis client's threads end with the instance", () -> !lettuceThreads());
    }
}
