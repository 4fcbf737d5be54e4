package fulcrum.hardening;

import fulcrum.proxy.ExchangeObserver;
import fulcrum.proxy.ExchangeObserver.ExchangeRecord;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How an exchange ends when what surrounds it goes wrong: a bad request pipelined behind a good
 * one, a request forwarded with Connection: close, requests refused before they became exchanges.
 */
class ExchangeEndTest {
    private RawBackend backend;
    private FulcrumFixture fulcrum;
    private final List<ExchangeRecord> records = new CopyOnWriteArrayList<>();

    private void start(RawBackend.Script script) throws IOException {
        backend = new RawBackend(script);
        fulcrum = FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app,"
                + " header-timeout = 2s }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
        fulcrum.balancer().listenerContexts().get(0).observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                records.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
            }
        });
    }

    @AfterEach
    void stop() throws IOException {
        if (fulcrum != null) {
            fulcrum.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void aGoodRequestPipelinedBeforeABadOneIsAnsweredFirst() throws Exception {
        // The backend answers a little late, so the bad request is decoded while the first waits.
        start(c -> {
            while (c.readRequest() != null) {
                sleep(100);
                c.write(RawBackend.OK);
            }
        });
        try (RawClient c = new RawClient(fulcrum.port())) {
            c.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
                   + "GET /second HTTP/1.1\r\nHost a\r\n\r\n"); // a field line without a colon
            RawClient.Response first = c.read();
            assertEquals(200, first.status());
            assertEquals("ok", first.body());
            assertEquals(400, c.read().status());
            assertTrue(c.closedByPeer());
        }
        assertEquals(1, backend.requests().size());
        assertEquals("GET /first HTTP/1.1", backend.requests().get(0).requestLine());
    }

    @Test
    void aGoodRequestPipelinedBeforeABadOneInOnePacketWithAQuickBackend() throws Exception {
        start(RawBackend.RECORDER);
        for (int i = 0; i < 20; i++) {
            try (RawClient c = new RawClient(fulcrum.port())) {
                c.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n");
                assertEquals(200, c.read().status(), "round " + i);
                assertEquals(400, c.read().status(), "round " + i);
                assertTrue(c.closedByPeer());
            }
        }
        assertEquals(20, backend.requests().size());
    }

    @Test
    void aBackendConnectionThatCarriedConnectionCloseIsNotReused() throws Exception {
        // The backend ignores the close it was sent and keeps its side open.
        start(RawBackend.RECORDER);
        try (RawClient c = new RawClient(fulcrum.port())) {
            // An ambiguous field: served once with Connection: close to the target, then closed.
            c.send("POST /ambiguous HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello");
            assertEquals(200, c.read().status());
            assertTrue(c.closedByPeer());
        }
        RawBackend.Request ambiguous = backend.requests().get(0);
        assertEquals("close", ambiguous.header("connection"));
        try (RawClient c = new RawClient(fulcrum.port())) {
            c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
            assertEquals(200, c.read().status());
        }
        assertEquals(2, backend.requests().size());
        assertNotEquals(ambiguous.connection(), backend.requests().get(1).connection(),
                        "the next client's request travelled on the connection sent Connection: close");
    }

    @Test
    void requestsRefusedBeforeRoutingAreRecorded() throws Exception {
        start(RawBackend.RECORDER);
        try (RawClient c = new RawClient(fulcrum.port())) {
            c.send("GET / HTTP/1.1\r\nHost a\r\n\r\n");
            assertEquals(400, c.read().status());
        }
        try (RawClient c = new RawClient(fulcrum.port())) {
            c.send("GET / HTTP/3.0\r\nHost: a\r\n\r\n");
            assertEquals(505, c.read().status());
        }
        try (RawClient c = new RawClient(fulcrum.port())) {
            c.send("GET / HTTP/1.1\r\nHost: a\r\n"); // never finished: the header timeout answers
            assertEquals(408, c.read().status());
        }
        Await.until("three records", () -> records.size() >= 3);
        assertEquals(List.of(400, 505, 408), records.stream().map(ExchangeRecord::status).toList());
        for (ExchangeRecord r : records) {
            assertEquals("test", r.listener());
            assertEquals(null, r.target());
            assertTrue(r.client().getAddress().isLoopbackAddress());
        }
        assertEquals(0, backend.requests().size());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Polls a condition the proxy's event loop makes true. */
    private static final class Await {
        static void until(String what, java.util.function.BooleanSupplier ok) throws InterruptedException {
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!ok.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("timed out waiting for " + what);
                }
                Thread.sleep(10);
            }
        }
    }
}
