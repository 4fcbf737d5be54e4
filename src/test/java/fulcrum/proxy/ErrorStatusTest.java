package fulcrum.proxy;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 502, 503 and 504 are real HTTP answers, and the client connection goes on working after them. */
class ErrorStatusTest {

    private static String deadAddress() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return "127.0.0.1:" + s.getLocalPort(); // closed when this returns: connections are refused
        }
    }

    @Test
    void refusedTargetGives502AndTheConnectionGoesOn() throws Exception {
        try (FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false\nmax-retries = 0",
                                                           deadAddress());
             RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 3; i++) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                RawClient.Response r = c.read();
                assertEquals(502, r.status());
                assertEquals("502 Bad Gateway\n", r.body());
            }
        }
    }

    @Test
    void refusedTargetIsRetriedOnALiveOne() throws Exception {
        try (HttpBackend live = HttpBackend.start("live");
             FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false", deadAddress(),
                                                           live.address());
             RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 6; i++) {
                c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
                RawClient.Response r = c.read();
                assertEquals(200, r.status());
                assertEquals("live", r.body());
            }
        }
    }

    @Test
    void noTargetGives503() throws Exception {
        try (FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false");
             RawClient c = new RawClient(lb.port())) {
            c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
            assertEquals(503, c.read().status());
            c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(503, c.read().status());
        }
    }

    @Test
    void silentTargetGives504AndTheNextRequestWorks() throws Exception {
        try (HttpBackend backend = HttpBackend.start("slow");
             FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false\nresponse-timeout = 300ms",
                                                           backend.address());
             RawClient c = new RawClient(lb.port())) {
            long t0 = System.nanoTime();
            c.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(504, c.read().status());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 250, "504 after " + ms + " ms");
            c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("slow", r.body());
        }
    }

    @Test
    void malformedRequestGets400AndClose() throws Exception {
        try (HttpBackend backend = HttpBackend.start("x");
             FulcrumFixture lb = FulcrumFixture.forTargets("health-check.enabled = false", backend.address());
             RawClient c = new RawClient(lb.port())) {
            c.send("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(400, r.status());
            assertTrue(c.closedByPeer());
            assertEquals(0, backend.requests());
        }
    }

    @Test
    void aResponseStreamingLongerThanTheIdleTimeoutIsNotCut() throws Exception {
        try (HttpBackend backend = HttpBackend.start("slow");
             FulcrumFixture lb = FulcrumFixture.start(
                     "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                     + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app, idle-timeout = 1s }]\n"
                     + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
             RawClient c = new RawClient(lb.port())) {
            // 8 chunks 300 ms apart: 2.4 s of response, the client silent all along.
            c.send("GET /drip?chunks=8&ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertTrue(r.body().endsWith("chunk7\n"), r.body());
        }
    }
}
