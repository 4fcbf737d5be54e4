package fulcrum.diagnose;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (Debian's package, installed by scripts/setup-test-deps) on a loopback
 * ephemeral port, in front of {@code servers}, with a backend body given by the test.
 */
final class Haproxy implements AutoCloseable {
    private final Process process;
    private final int port;

    private Haproxy(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** {@code backend}: the backend's lines before its servers; {@code serverOptions} after each "server sN addr". */
    static Haproxy start(Path dir, String backend, String serverOptions, List<Integer> servers) throws Exception {
        String binary = binary();
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            StringBuilder cfg = new StringBuilder("""
                    global
                      maxconn 1000
                    defaults
                      mode http
                      timeout connect 5s
                      timeout client 60s
                      timeout server 60s
                      timeout tunnel 1h
                    frontend fe
                      bind 127.0.0.1:%d
                      default_backend chat
                    backend chat
                    """.formatted(port));
            cfg.append(backend.strip().indent(2));
            for (int i = 0; i < servers.size(); i++) {
                cfg.append("  server s").append(i).append(" 127.0.0.1:").append(servers.get(i))
                   .append(' ').append(serverOptions.replace("{n}", Integer.toString(i))).append('\n');
            }
            Path file = dir.resolve("haproxy-" + port + ".cfg");
            Files.writeString(file, cfg, StandardCharsets.UTF_8);
            Path log = dir.resolve("haproxy-" + port + ".log");
            Process p = new ProcessBuilder(binary, "-db", "-f", file.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (awaitListening(p, port)) {
                return new Haproxy(p, port);
            }
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            last = new IOException("haproxy did not listen on " + port + ": " + Files.readString(log));
        }
        throw last;
    }

    int port() {
        return port;
    }

    String url() {
        return "http://127.0.0.1:" + port + "/";
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The haproxy binary; its absence fails the test (CI installs it): not a silent skip. */
    static String binary() {
        for (String dir : (System.getenv("PATH") + ":/usr/sbin:/usr/local/sbin").split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "haproxy");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException("haproxy is not installed: run scripts/setup-test-deps");
    }

    private static boolean awaitListening(Process p, int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline && p.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
                return true;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        return false;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
