package fulcrum.socketio;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real Redis and N real chat servers ({@code docker/chat/server.js}) on loopback ephemeral
 * ports, sharing that Redis through the Socket.IO Redis adapter. Each child's output goes to
 * {@code target/chat-logs/}.
 */
public final class ChatCluster implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60); // generous: a loaded machine
    private static final Duration STOP_GRACE = Duration.ofSeconds(10);
    private static final int PORT_ATTEMPTS = 5;
    private static final AtomicInteger LOG_SEQ = new AtomicInteger();

    private final Path chatDir;
    private final Path logDir;
    private final Process redis;
    private final int redisPort;
    private final List<Integer> ports;
    private final Process[] servers;
    private final Path[] logs;
    private final Map<String, String> env;

    private ChatCluster(Path chatDir, Path logDir, Process redis, int redisPort, int servers, Map<String, String> env) {
        this.chatDir = chatDir;
        this.logDir = logDir;
        this.redis = redis;
        this.redisPort = redisPort;
        this.ports = new ArrayList<>(servers);
        this.servers = new Process[servers];
        this.logs = new Path[servers];
        this.env = Map.copyOf(env);
    }

    /** Starts Redis and {@code servers} chat servers; returns once every one accepts connections. */
    public static ChatCluster start(int servers) throws IOException, InterruptedException {
        return start(servers, Map.of());
    }

    /** As {@link #start(int)}, with more environment for every server (PING_INTERVAL, PING_TIMEOUT). */
    public static ChatCluster start(int servers, Map<String, String> env) throws IOException, InterruptedException {
        if (servers < 1) {
            throw new IllegalArgumentException("servers: " + servers + " (expected: >= 1)");
        }
        Path root = repoRoot();
        Path chatDir = root.resolve("docker/chat");
        Path logDir = root.resolve("target/chat-logs");
        Files.createDirectories(logDir);

        Started redis = startRedis(logDir);
        ChatCluster cluster = new ChatCluster(chatDir, logDir, redis.process(), redis.port(), servers, env);
        try {
            for (int i = 0; i < servers; i++) {
                cluster.startServer(i, 0);
            }
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    /**
     * Starts Redis and reserves a port for each of {@code servers} chat servers without starting
     * them; {@link #restart} starts each. For tests that start a balancer before its targets.
     */
    public static ChatCluster startRedisOnly(int servers) throws IOException, InterruptedException {
        if (servers < 1) {
            throw new IllegalArgumentException("servers: " + servers + " (expected: >= 1)");
        }
        Path logDir = repoRoot().resolve("target/chat-logs");
        Files.createDirectories(logDir);
        Started redis = startRedis(logDir);
        ChatCluster cluster = new ChatCluster(repoRoot().resolve("docker/chat"), logDir, redis.process(),
                redis.port(), servers, Map.of());
        while (cluster.ports.size() < servers) {
            int port = freePort();
            if (!cluster.ports.contains(port)) {
                cluster.ports.add(port);
            }
        }
        return cluster;
    }

    /** The log of server {@code i}'s latest start, or null before its first. */
    public Path log(int i) {
        return logs[i];
    }

    /** The chat servers' ports, in index order. */
    public List<Integer> ports() {
        return Collections.unmodifiableList(ports);
    }

    public int port(int i) {
        return ports.get(i);
    }

    /** The id server {@code i} reports in {@code welcome}, {@code /health} and every chat. */
    public String serverId(int i) {
        return "chat-" + ports.get(i);
    }

    public String url(int i) {
        return "http://127.0.0.1:" + ports.get(i);
    }

    public int redisPort() {
        return redisPort;
    }

    public boolean isRunning(int i) {
        Process p = servers[i];
        return p != null && p.isAlive();
    }

    /** SIGTERM: the server closes its clients' connections and exits. */
    public void stop(int i) throws InterruptedException {
        Process p = servers[i];
        if (p == null) {
            return;
        }
        p.destroy();
        if (!p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** SIGKILL: a dead server, whose clients learn of it only from the broken connections. */
    public void kill(int i) throws InterruptedException {
        Process p = servers[i];
        if (p == null) {
            return;
        }
        p.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts server {@code i} again on its port (stopping it first if it still runs). */
    public void restart(int i) throws IOException, InterruptedException {
        if (isRunning(i)) {
            stop(i);
        }
        startServer(i, ports.get(i));
    }

    @Override
    public void close() {
        for (Process p : servers) {
            if (p != null) {
                p.destroy();
            }
        }
        redis.destroy();
        for (Process p : servers) {
            awaitOrKill(p);
        }
        awaitOrKill(redis);
    }

    private void startServer(int i, int fixedPort) throws IOException, InterruptedException {
        IOException last = null;
        int attempts = fixedPort == 0 ? PORT_ATTEMPTS : 1;
        for (int attempt = 0; attempt < attempts; attempt++) {
            int port = fixedPort == 0 ? freePort() : fixedPort;
            Path log = logDir.resolve("chat-" + port + "." + LOG_SEQ.incrementAndGet() + ".log");
            ProcessBuilder pb = new ProcessBuilder("node", "server.js")
                    .directory(chatDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().put("PORT", Integer.toString(port));
            pb.environment().put("HOST", "127.0.0.1");
            pb.environment().put("REDIS_URL", "redis://127.0.0.1:" + redisPort);
            pb.environment().put("SERVER_ID", "chat-" + port);
            pb.environment().putAll(env);
            Process p = pb.start();
            try {
                awaitLine(p, log, "listening on ");
            } catch (IOException e) {
                awaitOrKill(p);
                last = e;
                continue;
            }
            servers[i] = p;
            logs[i] = log;
            if (i < ports.size()) {
                ports.set(i, port);
            } else {
                ports.add(port);
            }
            return;
        }
        throw last;
    }

    private static Started startRedis(Path logDir) throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
            int port = freePort();
            Path log = logDir.resolve("redis-" + port + "." + LOG_SEQ.incrementAndGet() + ".log");
            Process p = new ProcessBuilder("redis-server", "--port", Integer.toString(port),
                    "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            try {
                awaitLine(p, log, "Ready to accept connections");
                return new Started(p, port);
            } catch (IOException e) {
                awaitOrKill(p);
                last = e;
            }
        }
        throw last;
    }

    /** Waits for {@code marker} in a child's log; fails early if the child exits first. */
    private static void awaitLine(Process p, Path log, String marker)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            if (text.contains(marker)) {
                return;
            }
            if (!p.isAlive()) {
                throw new IOException(log.getFileName() + ": exited with " + p.exitValue()
                        + " before '" + marker + "':\n" + tail(text));
            }
            Thread.sleep(50);
        }
        throw new IOException(log.getFileName() + ": no '" + marker + "' within " + START_TIMEOUT
                + ":\n" + tail(Files.readString(log, StandardCharsets.UTF_8)));
    }

    private static String tail(String text) {
        return text.length() <= 2000 ? text : text.substring(text.length() - 2000);
    }

    private static void awaitOrKill(Process p) {
        if (p == null) {
            return;
        }
        try {
            if (!p.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A port that was free a moment ago. Another process may take it before the child binds it,
     * so callers retry on a failed start.
     */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The nearest folder at or above the working directory that holds {@code pom.xml}. */
    static Path repoRoot() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("pom.xml"))) {
                return d;
            }
        }
        throw new IllegalStateException("no pom.xml at or above " + dir);
    }

    static Path chatDir() {
        return repoRoot().resolve("docker/chat");
    }

    /** Why the chat fixtures cannot run here, or null when they can. */
    public static String missingPrerequisite() {
        Path modules = chatDir().resolve("node_modules");
        if (!Files.isDirectory(modules.resolve("socket.io"))) {
            return modules + " is missing: run scripts/setup-test-deps";
        }
        if (!onPath("node")) {
            return "node is not on PATH";
        }
        if (!onPath("redis-server")) {
            return "redis-server is not on PATH: run scripts/setup-test-deps";
        }
        return null;
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    private record Started(Process process, int port) {
        Started {
            requireNonNull(process, "process");
        }
    }
}
