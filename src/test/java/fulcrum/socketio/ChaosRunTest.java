package fulcrum.socketio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The chaos run, test-sized: {@code scripts/chaos --quick --proxy fulcrum} (three chat servers
 * sharing Redis, the third in a network namespace, 12 Socket.IO clients of four kinds and HTTP
 * load through Fulcrum, a minute of faults), then the invariants from its summary.json.
 *
 * <p>Asserted: no chat message lost or duplicated for clients that stayed connected; every
 * client of a failed target back within the health-check bound; Fulcrum's descriptors, RSS and
 * tunnels back to their baseline; no HTTP request failed but in flight at a fault, except
 * the 500s a target answers before its health checks take it out. That last exception is the
 * one invariant Fulcrum does not hold today (no outlier detection from live traffic): the script
 * still counts those requests and fails on them.
 */
class ChaosRunTest {

    private static final long RUN_TIMEOUT_MINUTES = 8;

    private Process process;

    @AfterEach
    void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            // The script's trap stops its engine, which kills its children and removes its namespace.
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void quickChaosRunKeepsTheInvariants() throws Exception {
        String missing = ChatCluster.missingPrerequisite();
        if (missing != null) {
            fail("chat fixtures cannot run: " + missing);
        }
        Path root = ChatCluster.repoRoot();
        Path out = root.resolve("target/chaos-junit");
        // Probes every 2s with ALB's shortest timeout, 2s: at 1s, on a 2-core machine at load 30,
        // two probes of a live target in a row can time out, and the target's clients are closed.
        // A fixed seed: the first faults are stop, partition, http500, kill, then loss, reload,
        // deregister, restart, latency as far as the minute goes (a loaded machine gets 3-4), so
        // every run meets faults that disconnect clients. The timing still varies run to run.
        List<String> cmd = new ArrayList<>(List.of(root.resolve("scripts/chaos").toString(), "--quick",
                "--proxy", "fulcrum", "--seed", "249", "--health-check", "2s", "--out", out.toString()));
        boolean root0 = "root".equals(System.getProperty("user.name"));
        if (!root0) {
            // Network namespaces need root (CI runs as root); without, no latency/loss/partition.
            cmd.add("--no-netns");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true);
        Files.createDirectories(out);
        Path log = out.resolve("run.log");
        pb.redirectOutput(log.toFile());
        String cp = fulcrumClasspath(root);
        if (cp != null) {
            pb.environment().put("CHAOS_FULCRUM_CP", cp);
        }
        // As every test: a leaked buffer fails it (the script's Fulcrum has leak detection off).
        pb.environment().put("CHAOS_FULCRUM_JAVA_OPTS", "-Dio.netty.leakDetection.level=paranoid");
        Files.deleteIfExists(out.resolve("summary.json"));
        process = pb.start();
        if (!process.waitFor(RUN_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            fail("scripts/chaos --quick still running after " + RUN_TIMEOUT_MINUTES + " minutes; see " + log);
        }
        int exit = process.exitValue();
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(exit == 0 || exit == 1, "scripts/chaos failed to run (exit " + exit + "):\n" + tail(text));
        Map<String, Object> summary = Json.parseObject(Files.readString(out.resolve("summary.json")));
        Map<String, Object> r = ((List<Map<String, Object>>) summary.get("results")).get(0);
        String context = "scripts/chaos output:\n" + tail(text);
        assertEquals(List.of(), r.get("errors"), context);

        List<Object> faults = (List<Object>) r.get("faults");
        assertTrue(faults.size() >= 3, "only " + faults.size() + " faults injected; " + context);

        Map<String, Object> msg = (Map<String, Object>) r.get("messages");
        assertTrue(num(msg, "checked") > 100 && num(msg, "deliveriesExpected") > 1000,
                "too few messages to judge: " + msg.get("checked") + "; " + context);
        assertEquals(0, num(msg, "lost"), "messages lost to clients that stayed connected: "
                + msg.get("lostSamples") + "; " + context);
        assertEquals(0, num(msg, "duplicated"), "messages duplicated: " + msg.get("dupSamples") + "; " + context);

        Map<String, Object> rec = (Map<String, Object>) r.get("recovery");
        assertTrue(num(rec, "disconnects") > 0, "no fault disconnected a client; " + context);
        assertEquals(0, num(rec, "notBack"), "clients never back; " + context);
        assertEquals(0, num(rec, "overBound"), "clients back later than " + rec.get("boundMs") + " ms: "
                + rec.get("overSamples") + "; " + context);
        assertEquals(0, num(rec, "unprovoked"), "clients dropped with no fault near: " + context);

        Map<String, Object> http = (Map<String, Object>) r.get("http");
        assertTrue(num(http, "requests") > 100, "too few HTTP requests: " + http.get("requests") + "; " + context);
        Set<String> causes = ((Map<String, Object>) http.get("byFault")).keySet();
        assertTrue(Set.of("http500").containsAll(causes), "HTTP requests failed that were not in flight at a"
                + " fault, nor answered 500 by a target not yet taken out: " + http.get("byFault") + " "
                + http.get("samples") + "; " + context);

        Map<String, Object> res = (Map<String, Object>) r.get("resources");
        assertEquals(Boolean.TRUE, res.get("fdsOk"), "descriptors: " + res + "; " + context);
        assertEquals(Boolean.TRUE, res.get("tunnelsOk"), "tunnels: " + res + "; " + context);
        assertEquals(Boolean.TRUE, res.get("rssOk"), "RSS: " + res + "; " + context);
        String fulcrumLog = Files.readString(out.resolve("fulcrum/fulcrum.log"), StandardCharsets.UTF_8);
        assertFalse(fulcrumLog.contains("LEAK:"), "Netty reported a leak in " + out.resolve("fulcrum/fulcrum.log"));
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Number n)) {
            throw new AssertionError(key + ": " + v + " in " + m);
        }
        return n.longValue();
    }

    private static String tail(String text) {
        return text.length() <= 6000 ? text : text.substring(text.length() - 6000);
    }

    /** The compiled classes when target/fulcrum.jar is missing or older than them, else null (the jar). */
    private static String fulcrumClasspath(Path root) throws IOException {
        Path jar = root.resolve("target/fulcrum.jar");
        Path classes = root.resolve("target/classes");
        if (Files.exists(jar) && Files.getLastModifiedTime(jar).compareTo(newest(classes)) >= 0) {
            return null;
        }
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.endsWith("test-classes"))
                .collect(Collectors.joining(File.pathSeparator));
    }

    private static java.nio.file.attribute.FileTime newest(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).map(p -> {
                try {
                    return Files.getLastModifiedTime(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).max(Comparable::compareTo).orElseThrow();
        }
    }
}
