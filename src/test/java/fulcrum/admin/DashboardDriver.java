package fulcrum.admin;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code src/test/browser/dashboard.js}, Debian's chromium driven through playwright-core: one
 * JSON command in, one JSON reply out (the commands are listed in the script). Its output goes to
 * {@code target/dashboard/driver.log}, its screenshots to {@code target/dashboard/}.
 */
final class DashboardDriver implements AutoCloseable {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    private final Process process;
    private final Writer in;
    private final BlockingQueue<Map<String, Object>> replies = new LinkedBlockingQueue<>();
    final List<String> pageErrors = new CopyOnWriteArrayList<>();
    private final Path log;

    DashboardDriver(String url) throws IOException {
        Path out = repoRoot().resolve("target/dashboard");
        Files.createDirectories(out);
        log = out.resolve("driver.log");
        process = new ProcessBuilder("node", "dashboard.js", "--url", url, "--out", out.toString(),
                                     "--chromium", CHROMIUM.toString())
                .directory(repoRoot().resolve("src/test/browser").toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(this::read, "dashboard-driver");
        reader.setDaemon(true);
        reader.start();
    }

    @SuppressWarnings("unchecked")
    private void read() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                         StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                Files.writeString(log, line + "\n", StandardCharsets.UTF_8,
                                  java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                if (!line.startsWith("{")) {
                    continue;
                }
                Map<String, Object> event = (Map<String, Object>) Json.parse(line);
                if ("reply".equals(event.get("event"))) {
                    replies.add(event);
                } else if ("pageerror".equals(event.get("event"))) {
                    pageErrors.add(String.valueOf(event.get("message")));
                }
            }
        } catch (IOException | RuntimeException e) {
            replies.add(Map.of("ok", false, "error", "driver output: " + e));
        }
    }

    /** Sends {@code command} and returns its reply; fails the test when the command failed. */
    Map<String, Object> send(String command) throws Exception {
        in.write(command + "\n");
        in.flush();
        Map<String, Object> reply = replies.poll(90, TimeUnit.SECONDS);
        assertTrue(reply != null, () -> "no reply to " + command + " (see " + log + ")");
        assertEquals(Boolean.TRUE, reply.get("ok"), () -> command + " failed: " + reply + " (see " + log + ")");
        return reply;
    }

    @Override
    public void close() {
        try {
            in.write("{\"cmd\":\"quit\"}\n");
            in.close();
        } catch (IOException e) {
            // already gone
        }
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static Path repoRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        throw new IllegalStateException("no pom.xml above the working directory");
    }

    /** Why the browser test cannot run here, or null when it can. */
    static String missingPrerequisite() {
        if (!Files.isExecutable(CHROMIUM)) {
            return CHROMIUM + " is missing (Debian's chromium package): run scripts/setup-test-deps";
        }
        Path playwright = repoRoot().resolve("src/test/browser/node_modules/playwright-core");
        if (!Files.isDirectory(playwright)) {
            return playwright + " is missing: run scripts/setup-test-deps";
        }
        return null;
    }
}
