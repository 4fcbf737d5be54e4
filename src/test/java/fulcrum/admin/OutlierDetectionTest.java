package fulcrum.admin;

import com.sun.net.httpserver.HttpServer;
import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outlier detection with real backends: one that answers 500 to everything but its health check
 * (so active checks call it healthy), one that closes every connection, and two that both fail.
 */
@Timeout(120)
class OutlierDetectionTest {
    @TempDir
    Path dir;

    private final List<AutoCloseable> closing = new ArrayList<>();
    private OpsFixture ops;

    @AfterEach
    void stop() throws Exception {
        if (ops != null) {
            ops.close();
        }
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    /** Answers 500 to every request but GET /health (200), and counts them. */
    private static final class FiveHundreds implements AutoCloseable {
        final HttpServer server;
        final AtomicInteger requests = new AtomicInteger();

        FiveHundreds() throws IOException {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            server.createContext("/", ex -> {
                boolean health = ex.getRequestURI().getPath().equals("/health");
                if (!health) {
                    requests.incrementAndGet();
                }
                byte[] body = (health ? "ok" : "boom").getBytes(StandardCharsets.US_ASCII);
                ex.sendResponseHeaders(health ? 200 : 500, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            });
            server.start();
        }

        String address() {
            return "127.0.0.1:" + server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    /** Accepts every connection and closes it at once: a target that resets. */
    private static final class Closer implements AutoCloseable {
        final ServerSocket socket = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        final AtomicInteger accepted = new AtomicInteger();
        final Thread thread = new Thread(this::run, "closer");

        Closer() throws IOException {
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            while (!socket.isClosed()) {
                try (Socket s = socket.accept()) {
                    accepted.incrementAndGet();
                } catch (IOException e) {
                    return;
                }
            }
        }

        String address() {
            return "127.0.0.1:" + socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private <T extends AutoCloseable> T closing(T c) {
        closing.add(c);
        return c;
    }

    private void start(String groupSettings, String... targets) {
        String config = OpsFixture.config(groupSettings, targets)
                .replace("admin.bind", "access-log { enabled = true, file = \"" + dir.resolve("access.log") + "\" }\nadmin.bind");
        ops = OpsFixture.start(dir, config);
    }

    private TargetGroup group() {
        return ops.ops.balancer().targetGroups().get("app");
    }

    private static int get(RawClient c) throws IOException {
        c.send("GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
        return c.read().status();
    }

    @Test
    void aTargetAnswering500sIsEjectedThoughHealthyAndComesBackOnItsOwn() throws Exception {
        HttpBackend a = closing(HttpBackend.start("a"));
        FiveHundreds b = closing(new FiveHundreds());
        start("""
                outlier-detection { consecutive-5xx = 3, base-ejection-time = 2s, max-ejection-percent = 50 }
                health-check { path = "/health", interval = 200ms, timeout = 150ms }
                """, a.address(), b.address());
        Target bad = group().snapshot().byId(b.address());
        OpsFixture.await("both healthy", () -> group().snapshot().all().stream()
                .allMatch(t -> t.state() == HealthState.HEALTHY));

        int errors = 0;
        try (RawClient c = new RawClient(ops.port())) {
            for (int i = 0; i < 20; i++) {
                errors += get(c) == 500 ? 1 : 0;
            }
        }
        assertEquals(3, errors, "three 500s, then b is out of rotation");
        assertEquals(3, b.requests.get());
        assertTrue(bad.ejected(System.nanoTime()));
        assertEquals(HealthState.HEALTHY, bad.state(), "its health checks still pass: ejection is apart from health");

        String targets = ops.get("/targets").body();
        assertTrue(targets.contains("\"target\":\"" + b.address() + "\"") && targets.contains("\"ejected\":true"), targets);
        String metrics = ops.get("/metrics").body();
        assertTrue(metrics.contains("fulcrum_outlier_ejections_total{target=\"" + b.address() + "\",target_group=\"app\"} 1.0")
                   || metrics.contains("fulcrum_outlier_ejections_total{target_group=\"app\",target=\"" + b.address() + "\"} 1.0"),
                   () -> metrics.lines().filter(l -> l.contains("ejection")).toList().toString());
        Path log = dir.resolve("access.log");
        OpsFixture.await("an ejection line in the access log", () -> lines(log).stream()
                .anyMatch(l -> l.startsWith("ejection ") && l.contains(b.address()) && l.contains("3 consecutive 5xx")));

        // Back on its own after 2 s; three more 500s eject it again, for twice as long.
        OpsFixture.await("b back", () -> !bad.ejected(System.nanoTime()));
        errors = 0;
        try (RawClient c = new RawClient(ops.port())) {
            for (int i = 0; i < 20; i++) {
                errors += get(c) == 500 ? 1 : 0;
            }
        }
        assertEquals(3, errors);
        assertEquals(2, bad.ejections());
        double left = bad.ejectionLeft(System.nanoTime()).toMillis() / 1000.0;
        assertTrue(left > 2.0 && left <= 4.0, "second ejection lasts 4 s: " + left + " s left");
    }

    @Test
    void aTargetThatClosesConnectionsIsEjectedOnGatewayFailures() throws Exception {
        HttpBackend a = closing(HttpBackend.start("a"));
        Closer b = closing(new Closer());
        start("""
                outlier-detection { consecutive-gateway-failure = 2, base-ejection-time = 30s }
                health-check.enabled = false
                """, a.address(), b.address());
        try (RawClient c = new RawClient(ops.port())) {
            for (int i = 0; i < 30; i++) {
                assertEquals(200, get(c), "a GET b dropped is retried on a");
            }
        }
        assertEquals(2, b.accepted.get(), "b got two requests, then none");
        assertTrue(group().snapshot().byId(b.address()).ejected(System.nanoTime()));
    }

    @Test
    void neverMoreThanMaxEjectionPercentAreEjected() throws Exception {
        FiveHundreds a = closing(new FiveHundreds());
        FiveHundreds b = closing(new FiveHundreds());
        start("""
                outlier-detection { consecutive-5xx = 2, base-ejection-time = 30s, max-ejection-percent = 50 }
                health-check { path = "/health", interval = 200ms, timeout = 150ms }
                """, a.address(), b.address());
        OpsFixture.await("both healthy", () -> group().snapshot().all().stream()
                .allMatch(t -> t.state() == HealthState.HEALTHY));
        try (RawClient c = new RawClient(ops.port())) {
            for (int i = 0; i < 20; i++) {
                assertEquals(500, get(c));
            }
        }
        long now = System.nanoTime();
        long ejected = group().snapshot().all().stream().filter(t -> t.ejected(now)).count();
        assertEquals(1, ejected, "one of two at 50 %");
        assertFalse(a.requests.get() == 0 || b.requests.get() == 0);
        assertTrue(Math.max(a.requests.get(), b.requests.get()) >= 16, "the other takes everything: "
                                                                       + a.requests + " / " + b.requests);
    }

    private static List<String> lines(Path f) {
        try {
            return Files.exists(f) ? Files.readAllLines(f) : List.of();
        } catch (IOException e) {
            return List.of();
        }
    }
}
