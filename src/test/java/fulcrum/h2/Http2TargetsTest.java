package fulcrum.h2;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Backend;
import fulcrum.testing.H2Wire;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An http2 target group: requests of HTTP/1.1 clients (curl) and HTTP/2 streams (curl, nghttp)
 * travel as streams over a few h2c connections to real HTTP/2 servers (Netty's server codec).
 */
class Http2TargetsTest {
    @TempDir
    static Path dir;
    private static H2Backend a;
    private static H2Backend b;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        a = H2Backend.start("a");
        b = H2Backend.start("b");
        // One event loop: every client's streams meet on the same pool, so connections are countable.
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = plain, bind = "127.0.0.1:0", default-target-group = app }]
                  target-groups.app { targets = ["%s", "%s"], protocol-version = http2, health-check.enabled = false }
                }""".formatted(a.address(), b.address()));
    }

    @AfterAll
    static void stop() {
        if (lb != null) {
            lb.close();
        }
        if (a != null) {
            a.close();
            b.close();
        }
    }

    @Test
    void http11AndHttp2ClientsShareFewBackendConnections() throws Exception {
        int streamsBefore = a.streams() + b.streams();
        // HTTP/1.1: six requests on one keep-alive connection, and six more on three connections.
        List<String> urls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            urls.add(lb.url("/h1/" + i));
        }
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--http1.1", "-w", " %{http_version} %{http_code}\\n"));
        cmd.addAll(urls);
        Cli.Result r = Cli.run(30, cmd.toArray(String[]::new));
        assertEquals(0, r.exit(), r.output());
        assertEquals(6, r.output().split("1.1 200").length - 1, r.output());
        for (int i = 0; i < 3; i++) {
            Cli.Result h2 = Cli.run(30, "curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_version} %{http_code}",
                                    lb.url("/h2/" + i));
            assertTrue(h2.output().endsWith(" 2 200"), h2.output());
        }
        // Ten streams at once on one client connection.
        List<String> n = new ArrayList<>(List.of("nghttp", "-n", "-s"));
        for (int i = 0; i < 10; i++) {
            n.add(lb.url("/nghttp/" + i));
        }
        Cli.Result ng = Cli.run(30, n.toArray(String[]::new));
        assertEquals(0, ng.exit(), ng.output());
        assertEquals(streamsBefore + 19, a.streams() + b.streams(), "every request a stream");
        System.out.println("19 requests: backend connections a=" + a.connections() + " b=" + b.connections());
        // One loop, two targets: one connection each (at most one more if a stream overlapped a close).
        assertTrue(a.connections() <= 2 && b.connections() <= 2,
                   "connections a=" + a.connections() + " b=" + b.connections() + " for 19 streams");
        var h = a.requests().get(a.requests().size() - 1);
        assertEquals("http", h.scheme().toString());
        assertEquals("127.0.0.1:" + lb.port(), h.authority().toString());
        assertTrue(h.contains("x-forwarded-for"), h.toString());
        assertEquals("trailers", h.get("te").toString());
    }

    @Test
    void bodiesAndTrailersPassBothWays() throws Exception {
        Path body = dir.resolve("body.bin");
        byte[] bytes = new byte[300_000];
        new java.util.Random(2).nextBytes(bytes);
        Files.write(body, bytes);
        for (String proto : List.of("--http1.1", "--http2-prior-knowledge")) {
            Path out = dir.resolve("echo" + proto + ".bin");
            Cli.Result r = Cli.run(30, "curl", "-sS", proto, "--data-binary", "@" + body, "-o", out.toString(),
                                   "-w", "%{http_code}", lb.url("/echo"));
            assertEquals("200", r.output());
            assertTrue(java.util.Arrays.equals(bytes, Files.readAllBytes(out)), "echoed intact over " + proto);
        }
        Cli.Result t = Cli.run(30, "nghttp", "-v", lb.url("/trailers"));
        assertEquals(0, t.exit(), t.output());
        assertTrue(t.output().contains("x-checksum: abc"), t.output());
    }

    @Test
    void aSlowReaderDoesNotStallOtherStreams() throws Exception {
        // An HTTP/2 client that never reads nor opens its windows (64 KiB): Fulcrum stops reading its
        // backend stream, whose own window then stops the target; the shared connection goes on.
        long before = a.bigWritten() + b.bigWritten();
        try (H2Wire stalled = new H2Wire(lb.port(), new Http2Settings())) {
            stalled.headers(1, H2Wire.get(lb.port(), "/big?n=67108864"), true).flush();
            stalled.headers(3, H2Wire.get(lb.port(), "/big?n=67108864"), true).flush();
            Thread.sleep(1000);
            quickRequestsSucceed();
            long written = a.bigWritten() + b.bigWritten() - before;
            System.out.println("two stalled HTTP/2 streams: the targets wrote " + written + " bytes");
            // Per stream: the client's window, a write buffer, the backend stream's window (and frames on the way).
            assertTrue(written < 1L << 20, "the targets wrote " + written + " bytes for streams never read");
        }
        // An HTTP/1.1 client reading 10 KiB/s: bounded by socket buffers (the kernel's, a few MiB) and windows.
        before = a.bigWritten() + b.bigWritten();
        Process slow = new ProcessBuilder("curl", "-sS", "--http1.1", "--limit-rate", "10k", "-o", "/dev/null",
                                          lb.url("/big?n=67108864"))
                .redirectErrorStream(true).start();
        try {
            Thread.sleep(1500);
            quickRequestsSucceed();
            long written = a.bigWritten() + b.bigWritten() - before;
            System.out.println("HTTP/1.1 slow reader: the target wrote " + written + " bytes");
            assertTrue(written < 16L << 20, "the target wrote " + written + " bytes for a client reading 10 KiB/s");
        } finally {
            slow.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static void quickRequestsSucceed() throws Exception {
        for (int i = 0; i < 4; i++) {
            Cli.Result r = Cli.run(20, "nghttp", "-n", "-s", lb.url("/quick/" + i), lb.url("/quick/x" + i));
            assertEquals(0, r.exit(), r.output());
        }
        Cli.Result h1 = Cli.run(20, "curl", "-sS", "--http1.1", "-w", "%{http_code}", "-o", "/dev/null",
                                lb.url("/quick/h1"));
        assertEquals("200", h1.output());
    }

    @Test
    void aFullConnectionMakesAnother() throws Exception {
        try (H2Backend narrow = H2Backend.start("narrow", 2);
             FulcrumFixture two = FulcrumFixture.start("""
                     fulcrum { io-threads = 1, shutdown-grace = 1s
                       listeners = [{ name = plain, bind = "127.0.0.1:0", default-target-group = app }]
                       target-groups.app { targets = ["%s"], protocol-version = http2, health-check.enabled = false }
                     }""".formatted(narrow.address()))) {
            List<String> n = new ArrayList<>(List.of("nghttp", "-n", "-s"));
            for (int i = 0; i < 6; i++) {
                n.add(two.url("/slow?ms=" + (400 + i)));
            }
            Cli.Result r = Cli.run(30, n.toArray(String[]::new));
            assertEquals(0, r.exit(), r.output());
            assertEquals(6, narrow.streams());
            // SETTINGS_MAX_CONCURRENT_STREAMS = 2: six streams at once need three connections.
            assertEquals(3, narrow.connections(), r.output());
        }
    }

    @Test
    void aRefusedStreamGoesToAnotherTargetWhileNoBodyWasSent() throws Exception {
        try (H2Backend refusing = H2Backend.start("refusing").refuse(true);
             H2Backend ok = H2Backend.start("ok");
             FulcrumFixture two = FulcrumFixture.forTargets("protocol-version = http2\nhealth-check.enabled = false",
                                                            refusing.address(), ok.address())) {
            for (int i = 0; i < 4; i++) {
                Cli.Result r = Cli.run(20, "curl", "-sS", "-w", " %{http_code}", two.url("/r" + i));
                assertTrue(r.output().startsWith("ok /r" + i) && r.output().endsWith(" 200"), r.output());
            }
            assertTrue(refusing.requests().size() >= 2, "round robin tried the refusing target too");
            // A body that went to the refusing target cannot be sent again: 502 for that one.
            int failed = 0;
            for (int i = 0; i < 4; i++) {
                Cli.Result r = Cli.run(20, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                       "--data-binary", "payload", two.url("/p" + i));
                failed += r.output().equals("502") ? 1 : 0;
                assertTrue(r.output().equals("200") || r.output().equals("502"), r.output());
            }
            assertTrue(failed >= 1 && failed <= 3, failed + " of 4 bodies refused");
        }
    }

    @Test
    void aTargetsGoAwayMovesNewStreamsToANewConnection() throws Exception {
        try (H2Backend leaving = H2Backend.start("leaving").goAwayAfterEach(true);
             FulcrumFixture one = FulcrumFixture.forTargets("protocol-version = http2\nhealth-check.enabled = false",
                                                            leaving.address())) {
            for (int i = 0; i < 3; i++) {
                Cli.Result r = Cli.run(20, "curl", "-sS", "-w", " %{http_code}", one.url("/g" + i));
                assertTrue(r.output().endsWith(" 200"), r.output());
                Thread.sleep(100); // the GOAWAY follows the answer
            }
            assertEquals(3, leaving.connections(), "no new stream on a connection that got GOAWAY");
        }
    }

    @Test
    void aDrainingTargetGetsGoAwayAndItsOpenStreamsFinish() throws Exception {
        try (H2Backend draining = H2Backend.start("draining");
             FulcrumFixture one = FulcrumFixture.forTargets(
                     "protocol-version = http2\nhealth-check.enabled = false\nderegistration-delay = 30s",
                     draining.address())) {
            Process slow = new ProcessBuilder("curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_code}",
                                              one.url("/slow?ms=1500")).redirectErrorStream(true).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (draining.streams() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            var group = one.balancer().targetGroups().get("app");
            group.drain(group.snapshot().all().get(0), "test");
            assertTrue(slow.waitFor(20, TimeUnit.SECONDS));
            String out = new String(slow.getInputStream().readAllBytes());
            assertTrue(out.endsWith("draining slow\n 200"), "the open stream finished: " + out);
            while (draining.closed() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, draining.goAwaysReceived(), "GOAWAY from Fulcrum");
            assertEquals(1, draining.closed(), "then the connection closed");
        }
    }

    @Test
    void aSilentConnectionIsPingedAndAnIdleOneCloses() throws Exception {
        try (H2Backend quiet = H2Backend.start("quiet");
             FulcrumFixture one = FulcrumFixture.forTargets(
                     "protocol-version = http2\nhealth-check.enabled = false\nkeep-alive-timeout = 400ms",
                     quiet.address())) {
            // A stream waiting 2.5 s on a silent connection: pinged (and answered), not closed.
            Cli.Result r = Cli.run(20, "curl", "-sS", "-w", " %{http_code}", one.url("/slow?ms=2500"));
            assertEquals("quiet slow\n 200", r.output());
            assertTrue(quiet.pings() >= 1, "pings: " + quiet.pings());
            assertEquals(0, quiet.closed());
            // No stream for the keep-alive timeout: closed.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (quiet.closed() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, quiet.closed(), "the idle connection closed");
            System.out.println("silent 2.5 s with keep-alive-timeout 400ms: " + quiet.pings() + " pings");
        }
    }

    @Test
    void aTargetThatNeverSpeaksHttp2IsAConnectFailure() throws Exception {
        // Accepts connections, never answers: no SETTINGS within connect-timeout is a failed connect.
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
             FulcrumFixture one = FulcrumFixture.forTargets(
                     "protocol-version = http2\nhealth-check.enabled = false\nconnect-timeout = 400ms\nmax-retries = 0",
                     "127.0.0.1:" + silent.getLocalPort())) {
            long t0 = System.nanoTime();
            Cli.Result r = Cli.run(20, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", one.url("/"));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals("502", r.output());
            assertTrue(ms < 5000, "answered after " + ms + " ms");
        }
    }

    @Test
    void streamsAboveTheTargetsGoAwayGoElsewhere() throws Exception {
        try (H2Backend leaving = H2Backend.start("leaving").goAwayUnprocessed(true);
             H2Backend ok = H2Backend.start("ok");
             FulcrumFixture two = FulcrumFixture.forTargets("protocol-version = http2\nhealth-check.enabled = false",
                                                            leaving.address(), ok.address())) {
            for (int i = 0; i < 4; i++) {
                // POST: not idempotent, so only "never processed" allows the second try.
                Cli.Result r = Cli.run(20, "curl", "-sS", "-X", "POST", "-w", " %{http_code}", two.url("/u" + i));
                assertTrue(r.output().startsWith("ok /u" + i) && r.output().endsWith(" 200"), r.output());
            }
            assertTrue(leaving.streams() >= 2, "round robin sent streams to the leaving target too");
        }
    }

    @Test
    void h2loadManyStreamsAllSucceedOnFewBackendConnections() throws Exception {
        int before = a.connections() + b.connections();
        // 8 client connections x 32 concurrent streams, one event loop: 256 streams at once towards two targets.
        Cli.Result r = Cli.run(60, "h2load", "-n", "2000", "-c", "8", "-m", "32", lb.url("/load"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("2000 succeeded, 0 failed, 0 errored"), r.output());
        assertTrue(r.output().contains("status codes: 2000 2xx"), r.output());
        int opened = a.connections() + b.connections() - before;
        System.out.println("h2load 8x32 streams: " + opened + " new backend connections");
        // Up to 128 streams per target at once: two connections of 100 each at most, per target.
        assertTrue(opened <= 4, opened + " backend connections opened");
    }
}
