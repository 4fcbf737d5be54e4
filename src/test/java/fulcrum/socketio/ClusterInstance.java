package fulcrum.socketio;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One Fulcrum instance as users run it: its own JVM (conf/jvm.options, conf/logback.xml, paranoid
 * leak detection on top), fulcrum.Main with its own file, listener and admin API on one loopback
 * address, fixed ports so that a restart comes back where it was.
 */
final class ClusterInstance implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final String name;
    final String host;
    final int port;
    final int adminPort;
    private final Path conf;
    private final Path logDir;
    private Process process;
    private Path log;
    private int starts;

    ClusterInstance(String name, String host, Path dir, String redisUri, List<Integer> fileTargets) throws IOException {
        this.name = name;
        this.host = host;
        this.port = ClusterProcesses.freePort(host);
        this.adminPort = ClusterProcesses.freePort(host);
        this.logDir = dir;
        this.conf = dir.resolve("fulcrum-" + name + ".conf");
        String targets = fileTargets.stream().map(p -> "\"127.0.0.1:" + p + "\"").collect(Collectors.joining(", "));
        Files.writeString(conf, """
                fulcrum {
                  io-threads = 1
                  listeners = [{ name = web, bind = "%s:%d", default-target-group = chat }]
                  target-groups {
                    chat {
                      targets = [%s]
                      stickiness { enabled = true, type = engine-io }
                      health-check { path = "/health", interval = 300ms, timeout = 300ms, unhealthy-threshold = 3 }
                      deregistration-delay = 2s
                    }
                  }
                  admin { enabled = true, bind = "%s:%d" }
                  cluster {
                    redis = "%s"
                    instance-id = %s
                    sync-interval = 2s
                    health-view-interval = 500ms
                    retry-min = 100ms
                    retry-max = 500ms
                  }
                }
                """.formatted(host, port, targets, host, adminPort, redisUri, name));
    }

    void start() throws IOException, InterruptedException {
        log = logDir.resolve("fulcrum-" + name + "." + ++starts + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("@" + Path.of("conf/jvm.options").toAbsolutePath());
        cmd.add("-Dlogback.configurationFile=" + Path.of("conf/logback.xml").toAbsolutePath());
        cmd.add("-Dio.netty.leakDetection.level=paranoid");
        cmd.add("-cp");
        cmd.add(Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                      .filter(e -> !e.endsWith("test-classes")).collect(Collectors.joining(File.pathSeparator)));
        cmd.add("fulcrum.Main");
        cmd.add("--config");
        cmd.add(conf.toString());
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    void awaitStarted() throws IOException, InterruptedException {
        ClusterProcesses.awaitLine(process, log, "admin API listening", 240_000);
    }

    String endpoint() {
        return host + ":" + port;
    }

    String output() throws IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= starts; i++) {
            Path p = logDir.resolve("fulcrum-" + name + "." + i + ".log");
            if (Files.exists(p)) {
                b.append(Files.readString(p, StandardCharsets.UTF_8));
            }
        }
        return b.toString();
    }

    /** The admin API's answer to {@code method path} ({@code body} JSON or null): status and body. */
    HttpResponse<String> admin(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + host + ":" + adminPort + path))
                .timeout(Duration.ofSeconds(5));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A GET through the balancer. */
    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + endpoint() + path)).timeout(Duration.ofSeconds(5))
                                 .build(), HttpResponse.BodyHandlers.ofString());
    }

    void kill() throws InterruptedException {
        ClusterProcesses.kill(process);
    }

    /** SIGTERM: in-flight long-polls finish (within the default 30 s shutdown-grace), then it exits. */
    void stop() {
        ClusterProcesses.stop(process, 60_000);
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    @Override
    public void close() {
        if (process != null) {
            ClusterProcesses.stop(process, 5_000);
        }
    }
}
