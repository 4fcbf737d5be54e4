package fulcrum.routing;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Listener rules through real sockets: every condition type, every action, priority order. */
class RoutingTest {
    private static final Map<String, HttpBackend> backends = new LinkedHashMap<>();
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws IOException {
        for (String name : List.of("web", "chat", "api", "v2", "blue", "green", "heavy", "light")) {
            backends.put(name, HttpBackend.start(name));
        }
        StringBuilder groups = new StringBuilder();
        backends.forEach((name, b) -> groups.append(name).append(" { targets = [\"").append(b.address())
                                            .append("\"], health-check.enabled = false }\n"));
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = t, bind = "127.0.0.1:0", default-target-group = web
                    rules = [
                      # listed out of order: priority decides, not position
                      { priority = 7, conditions { path = ["/p/x"] }, action { forward = chat } }
                      { priority = 5, conditions { path = ["/p/*"] }, action { forward = api } }
                      { priority = 10, conditions { path = ["/socket.io/*"] }, action { forward = chat } }
                      { priority = 20, conditions { host = ["*.api.test", "api?.example.com"], method = ["GET", "POST"] },
                        action { forward = api } }
                      { priority = 30, conditions { path = ["/old/*"] },
                        action { redirect { status = 302, path = "/new/#{path}" } } }
                      { priority = 40, conditions { header { "X-Maintenance" = ["on", "y*"] } },
                        action { fixed-response { status = 503, content-type = "text/plain", body = "back soon" } } }
                      { priority = 50, conditions { query { version = ["v2", "2.*"] } }, action { forward = v2 } }
                      { priority = 60, conditions { source-ip = ["10.0.0.0/8"], path = ["/src"] }, action { forward = chat } }
                      { priority = 61, conditions { source-ip = ["127.0.0.0/8", "::1"], path = ["/src"] }, action { forward = api } }
                      { priority = 70, conditions { path = ["/w"] },
                        action { forward { target-groups = [{ name = heavy, weight = 3 }, { name = light, weight = 1 }] } } }
                      { priority = 80, conditions { path = ["/s"] },
                        action { forward { target-groups = [{ name = blue, weight = 50 }, { name = green, weight = 50 }],
                                           stickiness = 1h } } }
                    ]
                  }]
                  target-groups {
                """ + groups + "} }");
    }

    @AfterAll
    static void stop() {
        if (lb != null) {
            lb.close();
        }
        backends.values().forEach(HttpBackend::close);
    }

    private static RawClient.Response get(String path, String... headers) throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            return c.send(request("GET", path, headers)).read();
        }
    }

    private static String request(String method, String path, String... headers) {
        StringBuilder b = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
        boolean host = false;
        for (String h : headers) {
            b.append(h).append("\r\n");
            host |= h.regionMatches(true, 0, "host:", 0, 5);
        }
        if (!host) {
            b.append("Host: lb.test\r\n");
        }
        return b.append("\r\n").toString();
    }

    @Test
    void noRuleMatchingGoesToTheDefault() throws IOException {
        assertEquals("web", get("/").body());
    }

    @Test
    void pathMatchesWithoutTheQuery() throws IOException {
        assertEquals("chat", get("/socket.io/?EIO=4&transport=polling").body());
        assertEquals("web", get("/socket.iox/").body());
        assertEquals("web", get("/SOCKET.IO/x").body(), "paths are case-sensitive");
    }

    @Test
    void priorityOrderNotListOrder() throws IOException {
        assertEquals("api", get("/p/x").body());
    }

    @Test
    void hostIsCaseInsensitiveWildcardedAndPortIgnored() throws IOException {
        assertEquals("api", get("/h", "Host: eu.API.test:8080").body());
        assertEquals("api", get("/h", "Host: api2.example.com").body());
        assertEquals("web", get("/h", "Host: api22.example.com").body());
        assertEquals("web", get("/h", "Host: api.test").body());
    }

    @Test
    void methodMustBeListed() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            assertEquals("web", c.send(request("DELETE", "/h", "Host: x.api.test")).read().body());
            assertEquals("api", c.send(request("POST", "/h", "Host: x.api.test", "Content-Length: 0")).read().body());
        }
    }

    @Test
    void headerNameIsCaseInsensitiveAndValuesArePatterns() throws IOException {
        RawClient.Response r = get("/", "x-maintenance: ON");
        assertEquals(503, r.status());
        assertEquals("back soon", r.body());
        assertEquals("text/plain", r.header("Content-Type"));
        assertEquals("9", r.header("Content-Length"));
        assertEquals(503, get("/", "X-Maintenance: yes").status());
        assertEquals("web", get("/", "X-Maintenance: off").body());
    }

    @Test
    void fixedResponseKeepsTheConnectionAndDropsTheBody() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            c.send("POST /upload HTTP/1.1\r\nHost: lb.test\r\nX-Maintenance: on\r\nContent-Length: 11\r\n\r\n"
                   + "hello world");
            RawClient.Response r = c.read();
            assertEquals(503, r.status());
            assertNull(r.header("Connection"));
            assertEquals("web", c.send(request("GET", "/after")).read().body(), "the body was not taken as a request");
            c.send(request("GET", "/", "X-Maintenance: on", "Connection: close"));
            assertEquals("close", c.read().header("Connection"));
            assertTrue(c.closedByPeer());
        }
    }

    @Test
    void headRequestGetsNoBody() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            RawClient.Response r = c.send(request("HEAD", "/", "X-Maintenance: on")).read(true);
            assertEquals(503, r.status());
            assertEquals("", r.body());
            assertEquals("web", c.send(request("GET", "/")).read().body());
        }
    }

    @Test
    void queryKeyIsCaseInsensitiveAndDecoded() throws IOException {
        assertEquals("v2", get("/q?a=1&version=v2").body());
        assertEquals("v2", get("/q?VERSION=V2").body());
        assertEquals("v2", get("/q?x&version=2.1").body());
        assertEquals("v2", get("/q?vers%69on=v%32").body());
        assertEquals("web", get("/q?version=v3").body());
        assertEquals("web", get("/q?myversion=v2").body());
    }

    @Test
    void sourceIpIsTheTcpPeer() throws IOException {
        assertEquals("api", get("/src", "X-Forwarded-For: 10.1.2.3").body());
    }

    @Test
    void redirectFillsTemplates() throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            RawClient.Response r = c.send(request("GET", "/old/a/b?x=1", "Host: Site.test:8080")).read();
            assertEquals(302, r.status());
            assertEquals("http://Site.test:8080/new/old/a/b?x=1", r.header("Location"));
            assertEquals("0", r.header("Content-Length"));
            assertEquals("web", c.send(request("GET", "/")).read().body(), "kept alive");
        }
        assertEquals("http://lb.test/new/old/", get("/old/").header("Location"));
    }

    @Test
    void weightedForwardSpreadsByWeight() throws IOException {
        // Few requests over sockets (the JDK backend is slow per request); RuleRouterTest checks the
        // spread closely over many decisions.
        Map<String, Integer> seen = new HashMap<>();
        int n = 80;
        try (RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < n; i++) {
                RawClient.Response r = c.send(request("GET", "/w")).read();
                assertNull(r.header("Set-Cookie"), "no stickiness, no cookie");
                seen.merge(r.body(), 1, Integer::sum);
            }
        }
        double heavy = seen.getOrDefault("heavy", 0) / (double) n;
        assertEquals(n, seen.getOrDefault("heavy", 0) + seen.getOrDefault("light", 0));
        assertTrue(heavy > 0.55 && heavy < 0.95, "heavy share " + heavy);
    }

    @Test
    void stickyWeightedForwardKeepsTheGroup() throws IOException {
        RawClient.Response first = get("/s");
        String setCookie = first.header("Set-Cookie");
        assertNotNull(setCookie);
        assertTrue(setCookie.startsWith("FULCRUM-TG="), setCookie);
        assertTrue(setCookie.contains("Max-Age=3600") && setCookie.contains("HttpOnly"), setCookie);
        assertFalse(setCookie.contains("Secure"), "plain HTTP: " + setCookie);
        String cookie = setCookie.substring(0, setCookie.indexOf(';'));
        try (RawClient c = new RawClient(lb.port())) {
            for (int i = 0; i < 30; i++) {
                RawClient.Response r = c.send(request("GET", "/s", "Cookie: a=b; " + cookie)).read();
                assertEquals(first.body(), r.body());
                assertNull(r.header("Set-Cookie"), "a fresh cookie is not renewed");
            }
        }
        // A forged cookie is ignored: the client gets a new one.
        String forged = cookie.substring(0, cookie.length() - 2) + (cookie.endsWith("AA") ? "BB" : "AA");
        assertNotNull(get("/s", "Cookie: " + forged).header("Set-Cookie"));
        Map<String, Integer> fresh = new HashMap<>();
        for (int i = 0; i < 40; i++) {
            fresh.merge(get("/s").body(), 1, Integer::sum);
        }
        assertEquals(2, fresh.size(), "new sessions go to both groups: " + fresh);
    }
}
