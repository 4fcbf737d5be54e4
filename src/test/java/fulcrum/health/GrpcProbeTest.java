package fulcrum.health;

import fulcrum.config.HealthCheckSettings;
import fulcrum.testing.GrpcHealthServer;
import fulcrum.testing.H2cStatusServer;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTP/2 and gRPC probes against real servers: grpc-java with its standard health service
 * (HealthStatusManager), and an h2c-only Netty server for http2 groups.
 */
class GrpcProbeTest {
    private static EventLoopGroup loops;

    @BeforeAll
    static void startLoops() {
        loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stopLoops() {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static HealthCheckSettings settings(String version, String healthCheck) {
        return Probes.settings(version, healthCheck);
    }

    private static ProbeResult probe(HealthCheckSettings hc, int port) throws Exception {
        return Probes.probe(loops, hc, port);
    }

    @Test
    void theDefaultGrpcCheckAsksTheStandardHealthServiceAndWantsServing() throws Exception {
        HealthCheckSettings hc = settings("grpc", "");
        assertEquals(HealthCheckSettings.GRPC_HEALTH_PATH, hc.path());
        assertEquals("", hc.grpcService());
        try (GrpcHealthServer g = GrpcHealthServer.start()) {
            ProbeResult r = probe(hc, g.port());
            assertTrue(r.healthy(), r.reason());
            assertEquals("SERVING", r.reason());
            g.health().setStatus("", ServingStatus.NOT_SERVING);
            assertEquals(ProbeResult.failed("NOT_SERVING"), probe(hc, g.port()));
            g.health().setStatus("", ServingStatus.SERVING);
            assertTrue(probe(hc, g.port()).healthy());
            g.health().enterTerminalState(); // what a server does as it shuts down: NOT_SERVING for all
            assertEquals(ProbeResult.failed("NOT_SERVING"), probe(hc, g.port()));
        }
    }

    @Test
    void aNamedServiceIsAskedAboutByName() throws Exception {
        try (GrpcHealthServer g = GrpcHealthServer.start()) {
            HealthCheckSettings chat = settings("grpc", "grpc-service = fulcrum.Chat");
            assertEquals(ProbeResult.failed("grpc-status 5 NOT_FOUND not in 0"), probe(chat, g.port()),
                         "grpc-java answers NOT_FOUND for a service it has no status for");
            g.health().setStatus("fulcrum.Chat", ServingStatus.SERVING);
            assertEquals(ProbeResult.passed("SERVING"), probe(chat, g.port()));
            g.health().setStatus("fulcrum.Chat", ServingStatus.NOT_SERVING);
            assertEquals(ProbeResult.failed("NOT_SERVING"), probe(chat, g.port()));
            assertTrue(probe(settings("grpc", ""), g.port()).healthy(), "the server as a whole still serves");
        }
    }

    @Test
    void albStylePathIsJudgedByGrpcCodesOfATrailersOnlyAnswer() throws Exception {
        try (GrpcHealthServer g = GrpcHealthServer.start()) {
            // grpc-java answers a method it lacks with one HEADERS frame: grpc-status 12 UNIMPLEMENTED.
            HealthCheckSettings alb = settings("grpc", "path = \"/AWS.ALB/healthcheck\", grpc-codes = \"12\"");
            assertEquals(ProbeResult.passed("grpc-status 12 UNIMPLEMENTED"), probe(alb, g.port()));
            HealthCheckSettings ok = settings("grpc", "path = \"/AWS.ALB/healthcheck\", grpc-codes = \"0\"");
            assertEquals(ProbeResult.failed("grpc-status 12 UNIMPLEMENTED not in 0"), probe(ok, g.port()));
            HealthCheckSettings range = settings("grpc", "path = \"/AWS.ALB/healthcheck\", grpc-codes = \"0-99\"");
            assertTrue(probe(range, g.port()).healthy());
            // Any method, judged by grpc-status alone: the health service's Check with an empty request is OK.
            HealthCheckSettings check = settings("grpc", "path = \"/grpc.health.v1.Health/Watch\", grpc-codes = \"0-11\"");
            assertEquals(ProbeResult.failed("timeout after 2s"), probe(check, g.port()),
                         "a streaming method that never ends is a timeout, not a pass");
        }
    }

    @Test
    void stoppedServerIsRefused() throws Exception {
        HealthCheckSettings hc = settings("grpc", "");
        int port;
        try (GrpcHealthServer g = GrpcHealthServer.start()) {
            port = g.port();
            assertTrue(probe(hc, port).healthy());
        }
        assertEquals(ProbeResult.failed("connection refused"), probe(hc, port));
    }

    @Test
    void http2GroupIsProbedWithGetOverH2c() throws Exception {
        try (H2cStatusServer s = new H2cStatusServer()) {
            HealthCheckSettings hc = settings("http2", "path = /health");
            assertEquals(ProbeResult.passed("status 200"), probe(hc, s.port()));
            assertEquals(List.of("GET /health"), s.requests);
            s.status = 503;
            assertEquals(ProbeResult.failed("status 503 not in 200"), probe(hc, s.port()));
            assertTrue(probe(settings("http2", "matcher = \"200-599\""), s.port()).healthy());
        }
    }

    @Test
    void aProbeThatTimedOutClosesItsConnectionAtOnce() throws Exception {
        try (H2cStatusServer s = new H2cStatusServer()) {
            s.silent = true;
            assertEquals(ProbeResult.failed("timeout after 300ms"), probe(settings("grpc", "timeout = 300ms"), s.port()));
            assertEquals(ProbeResult.failed("timeout after 300ms"), probe(settings("http2", "timeout = 300ms"), s.port()));
            // Its stream still open, the connection is not kept for a graceful end: no probe leaves one behind.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (s.open.get() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, s.open.get(), "connections left open");
            assertEquals(2, s.requests.size());
        }
    }

    @Test
    void anHttp2ProbeOfAnHttp1OnlyServerFails() throws Exception {
        // An HTTP/1.1 server answers the preface with a 400 (or closes): never a pass, and the reason says why.
        try (ScriptedServer s = ScriptedServer.answering("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")) {
            ProbeResult r = probe(settings("http2", ""), s.port());
            assertEquals(ProbeResult.failed("no HTTP/2 (h2c) answer: does the target speak HTTP/1.1 only?"), r);
        }
    }

    @Test
    void grpcAnswerWithoutStatusFromAPlainHttpServerOrAResetFails() throws Exception {
        try (H2cStatusServer s = new H2cStatusServer()) {
            // :status 200 with END_STREAM and no grpc-status: not a gRPC answer.
            assertEquals(ProbeResult.failed("no grpc-status"), probe(settings("grpc", ""), s.port()));
            s.status = 404;
            assertEquals(ProbeResult.failed("status 404, not a gRPC answer"), probe(settings("grpc", ""), s.port()));
            assertEquals(List.of("POST " + HealthCheckSettings.GRPC_HEALTH_PATH,
                                 "POST " + HealthCheckSettings.GRPC_HEALTH_PATH), s.requests);
            s.refuse = true;
            assertEquals(ProbeResult.failed("stream reset: REFUSED_STREAM"), probe(settings("grpc", ""), s.port()));
            assertEquals(ProbeResult.failed("stream reset: REFUSED_STREAM"), probe(settings("http2", ""), s.port()));
        }
    }

    @Test
    void aCancelFromTheTargetAtTheDeadlineItWasSentIsATimeout() throws Exception {
        // The target ends the call when the grpc-timeout it was sent runs out, which can reach the
        // probe just ahead of the probe's own timer: that is the timeout, not a failure of its own.
        HealthCheckSettings hc = settings("grpc", "timeout = 100ms");
        assertEquals(ProbeResult.failed("timeout after 100ms"), resetAfter(hc, 150));
        // Earlier than the deadline, a cancel is the target's own doing.
        assertEquals(ProbeResult.failed("stream reset: CANCEL"), resetAfter(hc, 0));
    }

    private static ProbeResult resetAfter(HealthCheckSettings hc, long ms) throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel();
        Promise<ProbeResult> result = ch.eventLoop().newPromise();
        ch.pipeline().addLast(new H2ProbeHandler(result, hc, "127.0.0.1:1"));
        ch.pipeline().fireChannelActive();
        Thread.sleep(ms);
        ch.pipeline().fireUserEventTriggered(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        ch.finishAndReleaseAll();
        assertTrue(result.isDone());
        return result.getNow();
    }

    @Test
    void healthMessagesByHand() {
        ByteBuf empty = GrpcHealth.request(UnpooledByteBufAllocator.DEFAULT, "");
        ByteBuf named = GrpcHealth.request(UnpooledByteBufAllocator.DEFAULT, "a.B");
        try {
            assertEquals("0000000000", ByteBufUtil.hexDump(empty));
            assertEquals("00000000050a03612e42", ByteBufUtil.hexDump(named));
        } finally {
            empty.release();
            named.release();
        }
        assertEquals(1, status("0000000002" + "0801"));
        assertEquals(2, status("0000000002" + "0802"));
        assertEquals(0, status("0000000000"), "proto3: no field is UNKNOWN");
        // Unknown fields (varint, fixed64, bytes, fixed32) are skipped; the last status wins.
        assertEquals(1, status("0000000016" + "1096" + "01" + "190102030405060708" + "2201ff" + "2d01020304" + "0801"));
        assertEquals(-1, status("0100000002" + "0801"), "compressed");
        assertEquals(-1, status("0000000003" + "0801"), "length beyond the data");
        assertEquals(-1, status("0000000001" + "08"), "truncated varint");
        assertEquals(-1, status("0000000002" + "0f01"), "wire type 7");
    }

    private static int status(String hex) {
        return GrpcHealth.servingStatus(Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex)));
    }
}
