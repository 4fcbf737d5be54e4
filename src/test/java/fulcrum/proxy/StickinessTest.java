package fulcrum.proxy;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import fulcrum.testing.TwoBackends;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StickinessTest {
    private static final String STICKY = """
            health-check.enabled = false
            stickiness { enabled = true, duration = 1h, secret = "a-test-secret-of-some-length" }
            """;
    @RegisterExtension
    final TwoBackends backends = new TwoBackends();
    private FulcrumFixture lb;

    @BeforeEach
    void start() {
        lb = backends.balance(STICKY);
    }

    /** A first request without a cookie: the target that answered, and the cookie it set. */
    private record Visit(String target, String cookie) {
    }

    private static Visit firstVisit(int port) throws Exception {
        try (RawClient c = new RawClient(port)) {
            c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            RawClient.Response r = c.read();
            return new Visit(r.body(), r.header("Set-Cookie").split(";")[0]);
        }
    }

    @Test
    void aClientThatKeepsCookiesStaysOnOneTarget() throws Exception {
        HttpClient browser = HttpClient.newBuilder().cookieHandler(new CookieManager()).build();
        Set<String> seen = new HashSet<>();
        int cookies = 0;
        for (int i = 0; i < 12; i++) {
            HttpResponse<String> r = browser.send(HttpRequest.newBuilder(URI.create(lb.url("/"))).build(),
                                                  HttpResponse.BodyHandlers.ofString());
            seen.add(r.body());
            if (r.headers().firstValue("set-cookie").isPresent()) {
                cookies++;
            }
        }
        assertEquals(1, seen.size(), "targets seen: " + seen);
        assertEquals(1, cookies, "a cookie is set once, not on every response");
    }

    @Test
    void withoutACookieRequestsSpreadAndEachGetsOne() throws Exception {
        Set<String> seen = new HashSet<>();
        try (RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 4; i++) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                RawClient.Response r = c.read();
                seen.add(r.body());
                String cookie = r.header("Set-Cookie");
                assertNotNull(cookie);
                assertTrue(cookie.matches("FULCRUM=[A-Za-z0-9_-]{20,}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
                           cookie);
                assertFalse(cookie.contains("127.0.0.1"), "the cookie never names the address");
            }
        }
        assertEquals(Set.of("a", "b"), seen);
    }

    @Test
    void aCookieLeadsToItsTarget() throws Exception {
        Visit v = firstVisit(lb.port());
        String cookie = v.cookie();
        String first = v.target();
        for (int i = 0; i < 6; i++) {
            try (RawClient c = new RawClient(lb.port())) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: other=1; " + cookie + "; more=2\r\n\r\n");
                RawClient.Response r = c.read();
                assertEquals(first, r.body());
                assertNull(r.header("Set-Cookie"));
            }
        }
    }

    @Test
    void forgedOrTamperedCookiesAreIgnoredAndReplaced() throws Exception {
        String cookie = firstVisit(lb.port()).cookie();
        char[] v = cookie.toCharArray();
        int i = v.length - 3;
        v[i] = v[i] == 'A' ? 'B' : 'A';
        String tampered = new String(v);
        for (String bad : new String[] {"FULCRUM=garbage", "FULCRUM=", "FULCRUM=127.0.0.1:3001", tampered}) {
            try (RawClient c = new RawClient(lb.port())) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + bad + "\r\n\r\n");
                RawClient.Response r = c.read();
                assertEquals(200, r.status(), bad);
                assertNotNull(r.header("Set-Cookie"), bad);
            }
        }
    }

    @Test
    void anotherInstanceWithTheSameSecretHonoursTheCookie() throws Exception {
        Visit v = firstVisit(lb.port());
        String cookie = v.cookie();
        String first = v.target();
        try (FulcrumFixture other = FulcrumFixture.forTargets(STICKY, backends.a().address(),
                                                              backends.b().address())) {
            for (int i = 0; i < 4; i++) {
                try (RawClient c = new RawClient(other.port())) {
                    c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n");
                    RawClient.Response r = c.read();
                    assertEquals(first, r.body());
                    assertNull(r.header("Set-Cookie"));
                }
            }
        }
    }

    @Test
    void aCookieForATargetThatLeftMovesTheClientWithANewCookie() throws Exception {
        Visit v = firstVisit(lb.port());
        String cookie = v.cookie();
        String first = v.target();
        var group = lb.balancer().targetGroups().get("app");
        var leaving = group.snapshot().all().stream()
                .filter(t -> t.id().equals((first.equals("a") ? backends.a() : backends.b()).address()))
                .findFirst().orElseThrow();
        group.remove(leaving);
        try (RawClient c = new RawClient(lb.port())) {
            c.send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n");
            RawClient.Response r = c.read();
            assertEquals(200, r.status());
            assertFalse(first.equals(r.body()));
            assertNotNull(r.header("Set-Cookie"));
        }
    }
}
