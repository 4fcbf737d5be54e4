package fulcrum.hardening;

import fulcrum.http.DesyncCorpusTest;
import fulcrum.http.DesyncCorpusTest.Case;
import fulcrum.http.DesyncMode;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The desync corpus (src/test/resources/desync) through a real balancer to a raw backend that
 * records every byte it gets. Each case is sent with a follow-up request in the same write, as a
 * smuggler would. A rejected case gets its status, its connection closed, and the backend
 * receives no complete request of it; an accepted case reaches the backend as exactly one
 * strictly framed request, and the follow-up gets its own answer unless the case is served once
 * and closed.
 */
class DesyncEndToEndTest {
    static final String FOLLOW_UP = "GET /follow-up HTTP/1.1\r\nHost: f.example\r\n\r\n";

    private static RawBackend backend;
    private static final Map<DesyncMode, FulcrumFixture> balancers = new EnumMap<>(DesyncMode.class);

    @BeforeAll
    static void start() throws IOException {
        backend = new RawBackend(RawBackend.RECORDER);
        for (DesyncMode m : DesyncMode.values()) {
            balancers.put(m, FulcrumFixture.start(
                    "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                    + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app,"
                    + " desync-mitigation-mode = " + m.name().toLowerCase(Locale.ROOT)
                    // The corpus is HTTP/1.1's: with HTTP/2 on, its h2-preface case would start HTTP/2.
                    + ", http2.enabled = false }]\n"
                    + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }"));
        }
    }

    @AfterAll
    static void stop() throws IOException {
        balancers.values().forEach(FulcrumFixture::close);
        backend.close();
    }

    static List<Case> cases() throws IOException {
        return DesyncCorpusTest.cases();
    }

    @Test
    void corpusIsComplete() throws IOException {
        assertEquals(127, cases().size());
    }

    @TestFactory
    Stream<DynamicTest> corpusThroughTheProxy() throws IOException {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> run(c)));
    }

    private static void run(Case c) throws Exception {
        try {
            exchange(c);
        } catch (AssertionError e) {
            throw new AssertionError(c.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Leaves an idle backend connection in the pool (one event loop), so the case's head is
     * written at once rather than after a connect: the case where it could reach the backend.
     */
    private static void warmPool(FulcrumFixture lb) throws IOException {
        try (RawClient warm = new RawClient(lb.port())) {
            warm.send("GET /warm HTTP/1.1\r\nHost: w\r\n\r\n");
            assertEquals(200, warm.read().status());
        }
    }

    private static void exchange(Case c) throws Exception {
        FulcrumFixture lb = balancers.get(c.mode());
        warmPool(lb);
        int before = backend.requests().size();
        int violationsBefore = backend.violations().size();
        long unframedBefore = backend.unframedBytes();
        try (RawClient client = new RawClient(lb.port())) {
            client.send(new String(c.bytes(), StandardCharsets.ISO_8859_1) + FOLLOW_UP);
            RawClient.Response first = client.read();
            assertNotNull(first, "no response");
            if (!c.ok()) {
                assertEquals(Integer.parseInt(c.outcome()), first.status(), first.head());
                assertEquals("close", first.header("Connection"));
                assertTrue(client.closedByPeer(), "connection closed after a rejection");
                assertEquals(List.of(), RawBackend.since(backend.requests(), before),
                             "no request of a rejected case reaches the backend");
            } else {
                assertEquals(200, first.status(), first.head());
                assertEquals("ok", first.body());
                List<RawBackend.Request> got = RawBackend.since(backend.requests(), before);
                assertTrue(got.size() >= 1, "the case reached the backend");
                RawBackend.Request r = got.get(0);
                if (!c.uri().equals("-")) {
                    // The backend's view is bytes (as ISO-8859-1); a target the client sent as
                    // UTF-8 must arrive as those same bytes.
                    String uriBytes = new String(c.uri().getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
                    assertEquals(uriBytes, r.requestLine().split(" ")[1], r.head());
                }
                assertTrue(r.requestLine().endsWith(" HTTP/1.1"), r.requestLine());
                if (!c.body().equals("-")) {
                    assertEquals(c.body(), r.bodyText());
                }
                assertTrue(r.count("content-length") == 0 || r.count("transfer-encoding") == 0, r.head());
                assertTrue(r.count("content-length") <= 1, r.head());
                assertEquals(1, r.count("host"), r.head());
                if ("close".equalsIgnoreCase(first.header("Connection"))) {
                    assertTrue(client.closedByPeer(), "closed after a close-after case");
                    assertEquals(1, RawBackend.since(backend.requests(), before).size(),
                                 "the follow-up of a close-after case never reaches the backend");
                } else {
                    RawClient.Response second = client.read();
                    assertNotNull(second, "follow-up answered");
                    assertEquals(200, second.status());
                    got = RawBackend.since(backend.requests(), before);
                    assertEquals(2, got.size(), got::toString);
                    assertEquals("GET /follow-up HTTP/1.1", got.get(1).requestLine());
                }
            }
        }
        assertEquals(List.of(), backend.violations().subList(violationsBefore, backend.violations().size()),
                     "strict framing on the backend side");
        assertEquals(unframedBefore, backend.unframedBytes(), "no stray bytes on any backend connection");
    }
}
