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

class ClusterSettingsTest {
    private static final String BASE = """
            fulcrum {
              listeners = [{ name = web, bind = "127.0.0.1:8080", default-target-group = chat }]
              target-groups.chat.targets = ["127.0.0.1:3001"]
            %s
            }
            """;

    @TempDir
    Path dir;

    private Path write(String cluster) throws IOException {
        Path f = dir.resolve("fulcrum.conf");
        Files.writeString(f, BASE.formatted(cluster));
        return f;
    }

    @Test
    void noRedisNoCluster() throws IOException {
        ClusterSettings c = FulcrumSettings.load(write("")).cluster();
        assertFalse(c.enabled());
        assertEquals("fulcrum:", c.keyPrefix());
        assertEquals(Duration.ofMillis(150), c.sessionLookupTimeout());
    }

    @Test
    void aRedisUriMakesACluster() throws IOException {
        ClusterSettings c = FulcrumSettings.load(write(
                "cluster { redis = \"rediss://redis.internal:6380/2\", password = s3cret, instance-id = a }")).cluster();
        assertTrue(c.enabled());
        assertEquals("a", c.instanceId());
        assertFalse(c.toString().contains("s3cret"), "the password stays out of logs: " + c);
    }

    @Test
    void errorsNameTheKeyAndWhereItWasSet() throws IOException {
        Path f = write("cluster { redis = \"http://127.0.0.1:6379\" }");
        String m = assertThrows(SettingsException.class, () -> FulcrumSettings.load(f)).getMessage();
        assertTrue(m.contains("fulcrum.cluster.redis") && m.contains("fulcrum.conf:4"), m);
        Path g = write("cluster { redis = \"redis://127.0.0.1:6379\", retry-min = 5s, retry-max = 1s }");
        m = assertThrows(SettingsException.class, () -> FulcrumSettings.load(g)).getMessage();
        assertTrue(m.contains("fulcrum.cluster.retry-max"), m);
        Path h = write("cluster { redis = \"redis://127.0.0.1:6379\", session-lookup-timeout = 0s }");
        m = assertThrows(SettingsException.class, () -> FulcrumSettings.load(h)).getMessage();
        assertTrue(m.contains("fulcrum.cluster.session-lookup-timeout"), m);
    }
}
