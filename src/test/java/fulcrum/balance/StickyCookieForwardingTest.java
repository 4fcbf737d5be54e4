package fulcrum.balance;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import fulcrum.testing.TwoBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The balancer's sticky cookies (the target group's and a weighted forward's) are read by the
 * balancer and, unless {@code forward-cookie = true}, never reach the targets, which see the
 * application's own cookies exactly as the client sent them.
 */
@Timeout(60)
class StickyCookieForwardingTest {
    @RegisterExtension
    final TwoBackends backends = new TwoBackends();

    private static FulcrumFixture targetSticky(String extra, HttpBackend... targets) {
        return FulcrumFixture.forTargets("health-check.enabled = false\n"
                                         + "stickiness { enabled = true, secret = \"a-test-secret-of-some-length\""
                                         + extra + " }", targets[0].address(), targets[1].address());
    }

    private static FulcrumFixture groupSticky(String extra, HttpBackend blue, HttpBackend green) {
        return FulcrumFixture.start("fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = blue\n"
                + "  rules = [{ priority = 1, conditions { path = [\"/*\"] }, action { forward {\n"
                + "    target-groups = [{ name = blue, weight = 50 }, { name = green, weight = 50 }],\n"
                + "    stickiness = 1h" + extra + " } } }] }]\n"
                + "target-groups {\n"
                + "  blue { targets = [\"" + blue.address() + "\"], health-check.enabled = false }\n"
                + "  green { targets = [\"" + green.address() + "\"], health-check.enabled = false } } }");
    }

    /** A first request: the name of the backend that answered, and the {@code NAME=value} it set. */
    private static String[] firstVisit(FulcrumFixture lb) throws IOException {
        try (RawClient c = new RawClient(lb.port())) {
            RawClient.Response r = c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").read();
            String setCookie = r.header("Set-Cookie");
            assertNotNull(setCookie);
            return new String[] {r.body(), setCookie.substring(0, setCookie.indexOf(';'))};
        }
    }

    /** Sends {@code cookieFields} as Cookie fields; returns the Cookie fields the backend got. */
    private List<String> cookiesSeen(FulcrumFixture lb, String expectedBackend, String... cookieFields)
            throws IOException {
        StringBuilder req = new StringBuilder("GET /page HTTP/1.1\r\nHost: x\r\n");
        for (String f : cookieFields) {
            req.append("Cookie: ").append(f).append("\r\n");
        }
        try (RawClient c = new RawClient(lb.port())) {
            RawClient.Response r = c.send(req.append("\r\n").toString()).read();
            assertEquals(200, r.status());
            assertEquals(expectedBackend, r.body(), "the cookie still leads to its target");
            assertNull(r.header("Set-Cookie"), "a valid cookie is not replaced");
        }
        HttpBackend backend = expectedBackend.equals("a") ? backends.a() : backends.b();
        List<Map<String, List<String>>> all = backend.requestHeaders();
        List<String> cookies = all.get(all.size() - 1).get("Cookie");
        return cookies == null ? List.of() : cookies;
    }

    @Test
    void theTargetGroupsCookieIsStripped() throws IOException {
        try (FulcrumFixture lb = targetSticky("", backends.a(), backends.b())) {
            String[] v = firstVisit(lb);
            String target = v[0];
            String cookie = v[1];
            assertTrue(cookie.startsWith("FULCRUM="), cookie);
            assertEquals(List.of("io=abc; FULCRUMX=keep;  theme=dark", "other=1"),
                         cookiesSeen(lb, target, "io=abc; " + cookie + "; FULCRUMX=keep;  theme=dark", "other=1"));
            assertEquals(List.of("io=abc"), cookiesSeen(lb, target, cookie, "io=abc"));
            assertEquals(List.of(), cookiesSeen(lb, target, cookie), "its only cookie: no Cookie field at all");
        }
    }

    @Test
    void forwardCookieSendsItOn() throws IOException {
        try (FulcrumFixture lb = targetSticky(", forward-cookie = true", backends.a(), backends.b())) {
            String[] v = firstVisit(lb);
            assertEquals(List.of("io=abc; " + v[1] + "; theme=dark"),
                         cookiesSeen(lb, v[0], "io=abc; " + v[1] + "; theme=dark"));
        }
    }

    @Test
    void aWeightedForwardsGroupCookieIsStripped() throws IOException {
        try (FulcrumFixture lb = groupSticky("", backends.a(), backends.b())) {
            String[] v = firstVisit(lb);
            assertTrue(v[1].startsWith("FULCRUM-TG="), v[1]);
            assertEquals(List.of("io=abc; FULCRUM=app"), cookiesSeen(lb, v[0], v[1] + "; io=abc; FULCRUM=app"),
                         "only the forward's cookie: the target group has no stickiness here");
        }
        try (FulcrumFixture lb = groupSticky(", forward-cookie = true", backends.a(), backends.b())) {
            String[] v = firstVisit(lb);
            assertEquals(List.of(v[1] + "; io=abc"), cookiesSeen(lb, v[0], v[1] + "; io=abc"));
        }
    }
}
