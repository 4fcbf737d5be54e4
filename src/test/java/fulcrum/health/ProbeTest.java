package fulcrum.health;

import fulcrum.config.HealthCheckSettings;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Probes against real sockets: what they send, and the reason each failure is given. */
class ProbeTest {
    private static EventLoopGroup loops;

    @BeforeAll
    static void startLoops() {
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stopLoops() {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static HealthCheckSettings settings(String healthCheck) {
        return Probes.settings("http1", healthCheck);
    }

    private static ProbeResult probe(HealthCheckSettings hc, int port) throws Exception {
        return Probes.probe(loops, hc, port);
    }

    @Test
    void httpProbeSendsGetWithHostUserAgentAndConnectionClose() throws Exception {
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) {
            ProbeResult r = probe(settings("path = \"/health?deep=1\""), s.port());
            assertTrue(r.healthy(), r.reason());
            assertEquals("status 200", r.reason());
            String head = s.requests().get(0);
            assertTrue(head.startsWith("GET /health?deep=1 HTTP/1.1\r\n"), head);
            String lower = head.toLowerCase();
            assertTrue(lower.contains("\r\nhost: 127.0.0.1:" + s.port() + "\r\n"), head);
            assertTrue(lower.contains("\r\nuser-agent: fulcrum-healthchecker/dev\r\n"), head);
            assertTrue(lower.contains("\r\nconnection: close\r\n"), head);
        }
    }

    @Test
    void statusOutsideTheMatcherFailsWithItsReason() throws Exception {
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")) {
            ProbeResult r = probe(settings("path = /"), s.port());
            assertFalse(r.healthy());
            assertEquals("status 500 not in 200", r.reason());
        }
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")) {
            assertTrue(probe(settings("matcher = \"200,302\""), s.port()).healthy());
        }
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n")) {
            assertEquals("status 301 not in 200-299", probe(settings("matcher = \"200-299\""), s.port()).reason());
        }
    }

    @Test
    void aLargeBodyIsNotWaitedFor() throws Exception {
        // Announces 100 MB and sends 64 KiB: the probe judges the status line and closes.
        byte[] head = "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        byte[] answer = new byte[head.length + 65536];
        System.arraycopy(head, 0, answer, 0, head.length);
        try (ScriptedServer s = ScriptedServer.answering(answer)) {
            ProbeResult r = probe(settings(""), s.port());
            assertTrue(r.healthy(), r.reason());
        }
    }

    @Test
    void refusedConnectionSaysSo() throws Exception {
        int port = closedPort();
        assertEquals("connection refused", probe(settings(""), port).reason());
        assertEquals("connection refused", probe(settings("protocol = tcp"), port).reason());
    }

    @Test
    void silentServerTimesOut() throws Exception {
        try (ScriptedServer s = ScriptedServer.hanging()) {
            long start = System.nanoTime();
            ProbeResult r = probe(settings("timeout = 300ms"), s.port());
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertFalse(r.healthy());
            assertEquals("timeout after 300ms", r.reason());
            assertTrue(ms >= 250 && ms < 3000, "took " + ms + " ms");
        }
    }

    @Test
    void truncatedStatusLineFails() throws Exception {
        // Two bytes of a status line, then the server waits for the probe to give up and close.
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 2")) {
            ProbeResult r = probe(settings(""), s.port());
            assertFalse(r.healthy(), r.reason());
        }
    }

    @Test
    void tcpProbePassesWhenTheConnectionOpens() throws Exception {
        try (ScriptedServer s = ScriptedServer.hanging()) {
            ProbeResult r = probe(settings("protocol = tcp"), s.port());
            assertTrue(r.healthy(), r.reason());
        }
    }

    private static int closedPort() throws IOException {
        try (ServerSocket ss = new ServerSocket(0)) {
            return ss.getLocalPort();
        }
    }
}
