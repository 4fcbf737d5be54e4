package fulcrum.h2;

import fulcrum.proxy.ExchangeObserver;
import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stickiness and observation of HTTP/2 streams: the same path as HTTP/1.1 requests. */
class Http2StickinessTest {
    private HttpBackend a;
    private HttpBackend b;
    private FulcrumFixture lb;
    private final List<ExchangeObserver.ExchangeRecord> records = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        a = HttpBackend.start("a");
        b = HttpBackend.start("b");
        lb = FulcrumFixture.forTargets("""
                health-check.enabled = false
                stickiness { enabled = true, duration = 1h, secret = "a-test-secret-of-some-length" }
                """, a.address(), b.address());
        lb.balancer().listenerContexts().get(0).observer(new ExchangeObserver() {
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
    void stop() {
        lb.close();
        a.close();
        b.close();
    }

    @Test
    void theStickyCookieHoldsAcrossStreamsEvenSplitAmongCookieFields() throws Exception {
        Cli.Result first = Cli.run(20, "curl", "-sS", "-i", "--http2-prior-knowledge", lb.url("/"));
        Matcher m = Pattern.compile("(?im)^set-cookie: ([^;\\r\\n]+)").matcher(first.output());
        assertTrue(m.find(), first.output());
        String sticky = m.group(1);
        String target = first.output().trim().substring(first.output().trim().length() - 1);
        HttpBackend chosen = target.equals("a") ? a : b;
        HttpBackend other = chosen == a ? b : a;
        int chosenBefore = chosen.requests();
        int otherBefore = other.requests();
        // Six streams on one connection, the sticky cookie in a field of its own, as browsers split them.
        Cli.Result r = Cli.run(20, "nghttp", "-n", "-H", "cookie: app=1", "-H", "cookie: " + sticky,
                               lb.url("/1"), lb.url("/2"), lb.url("/3"), lb.url("/4"), lb.url("/5"), lb.url("/6"));
        assertEquals(0, r.exit(), r.output());
        assertEquals(chosenBefore + 6, chosen.requests(), "every stream on the cookie's target");
        assertEquals(otherBefore, other.requests());
        Map<String, List<String>> h = chosen.requestHeaders().get(chosen.requestHeaders().size() - 1);
        assertEquals(List.of("app=1"), h.get("Cookie"), "one Cookie field, Fulcrum's own cookie taken out");
        List<ExchangeObserver.ExchangeRecord> h2 = records.stream().filter(x -> x.uri().length() == 2).toList();
        assertEquals(6, h2.size(), records.toString());
        for (ExchangeObserver.ExchangeRecord x : h2) {
            assertEquals("HTTP/2.0", x.protocol(), "the access log's protocol field");
            assertEquals(200, x.status());
            assertEquals("GET", x.method());
        }
    }
}
