package fulcrum.routing;

import com.typesafe.config.ConfigFactory;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.proxy.RouteDecision;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The router over many decisions, without sockets. */
class RuleRouterTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);

    private static RuleRouter router(String listener) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\"\n" + listener + " }]\n"
                + "target-groups { a.targets = [\"127.0.0.1:1\"], b.targets = [\"127.0.0.1:2\"], "
                + "c.targets = [\"127.0.0.1:3\"] } }"));
        Map<String, TargetGroup> groups = new LinkedHashMap<>();
        for (TargetGroupSettings g : s.targetGroups().values()) {
            groups.put(g.name(), new TargetGroup(g, new byte[32]));
        }
        return RuleRouter.of(s.listeners().get(0), groups);
    }

    private static HttpRequest get(String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
        r.headers().set("Host", "example.com");
        return r;
    }

    @Test
    void weightedForwardSpreadsWithinTolerance() {
        RuleRouter r = router("default-action { forward { target-groups = ["
                              + "{ name = a, weight = 90 }, { name = b, weight = 10 }, { name = c, weight = 0 }] } }");
        Map<String, Integer> seen = new HashMap<>();
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            seen.merge(r.route(get("/"), CLIENT).group().name(), 1, Integer::sum);
        }
        assertEquals(0, seen.getOrDefault("c", 0), "weight 0 gets nothing");
        double a = seen.get("a") / (double) n;
        assertTrue(Math.abs(a - 0.9) < 0.01, "share of a: " + a);
    }

    @Test
    void defaultTargetGroupShorthandIsOneConstantDecision() {
        RuleRouter r = router("default-target-group = b");
        RouteDecision d = r.route(get("/"), CLIENT);
        assertEquals("b", d.group().name());
        assertTrue(d == r.route(get("/x"), CLIENT), "nothing allocated per request for a plain forward");
    }

    @Test
    void redirectToHttpsWithOneRule() {
        RuleRouter r = router("default-target-group = a\n"
                              + "rules = [{ priority = 1, action { redirect { protocol = https } } }]");
        RouteDecision d = r.route(get("/path/x?q=1"), CLIENT);
        assertEquals(301, d.status());
        assertEquals("https://example.com/path/x?q=1", d.location());
        HttpRequest withPort = get("/");
        withPort.headers().set("Host", "example.com:8080");
        assertEquals("https://example.com:8080/", r.route(withPort, CLIENT).location());
    }

    @Test
    void redirectFieldsReplaceTheirParts() {
        RuleRouter r = router("default-action { redirect { status = 302, host = \"www.#{host}\", port = 8443, "
                              + "path = \"/v2/#{path}\", query = \"#{query}&from=#{protocol}\" } }");
        RouteDecision d = r.route(get("/a?b=c"), CLIENT);
        assertEquals(302, d.status());
        assertEquals("http://www.example.com:8443/v2/a?b=c&from=http", d.location());
    }
}
