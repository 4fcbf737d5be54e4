package fulcrum.routing;

import fulcrum.config.FulcrumSettings;
import fulcrum.config.SettingsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every invalid rule form is refused at start, naming the key, the value, what was expected and file:line. */
class RuleSettingsTest {
    @TempDir
    Path dir;

    /** Loads a file whose line 3 holds {@code rules}. */
    private String error(String rules) throws IOException {
        return error("default-target-group = web", rules);
    }

    private String error(String listenerLine, String rules) throws IOException {
        Path file = dir.resolve("x.conf");
        Files.writeString(file, "fulcrum {\n"
                                + "  listeners = [{ name = t, bind = \"127.0.0.1:0\", " + listenerLine + "\n"
                                + "    rules = [" + rules + "] }]\n"
                                + "  target-groups { web.targets = [\"127.0.0.1:1\"], chat.targets = [\"127.0.0.1:2\"] }\n"
                                + "}\n");
        return assertThrows(SettingsException.class, () -> FulcrumSettings.load(file)).getMessage();
    }

    private void assertError(String message, String key, String expected, int line) {
        assertTrue(message.startsWith(key + ": "), message);
        assertTrue(message.contains("(expected: " + expected), message);
        assertTrue(message.endsWith("x.conf:" + line), message);
    }

    @Test
    void duplicatePriority() throws IOException {
        String m = error("{ priority = 10, action.forward = web },\n"
                         + "{ priority = 10, action.forward = chat }");
        assertEquals("fulcrum.listeners[0].rules[1].priority: 10 (expected: a priority no other rule of this "
                     + "listener has) at " + dir.resolve("x.conf") + ":4", m);
    }

    @Test
    void priorityMissingOrOutOfRange() throws IOException {
        assertError(error("{ action.forward = web }"), "fulcrum.listeners[0].rules[0].priority",
                    "a priority between 1 and 50000", 3);
        assertError(error("{ priority = 0, action.forward = web }"), "fulcrum.listeners[0].rules[0].priority",
                    "between 1 and 50000", 3);
    }

    @Test
    void unknownKeys() throws IOException {
        assertError(error("{ priority = 1, action.forward = web, condition { path = [\"/\"] } }"),
                    "fulcrum.listeners[0].rules[0].condition", "a known key", 3);
        assertError(error("{ priority = 1, action.forward = web, conditions { paths = [\"/\"] } }"),
                    "fulcrum.listeners[0].rules[0].conditions.paths", "a known key", 3);
        assertError(error("{ priority = 1, action { redirect { status = 301, pathh = \"/x\" } } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.pathh", "a known key", 3);
        assertError(error("{ priority = 1, action { forward { target-groups = [web], stickyness = 1h } } }"),
                    "fulcrum.listeners[0].rules[0].action.forward.stickyness", "a known key", 3);
        assertError(error("{ priority = 1, action { forward { target-groups = [{ name = web, wieght = 2 }] } } }"),
                    "fulcrum.listeners[0].rules[0].action.forward.target-groups[0].wieght", "a known key", 3);
        assertError(error("{ priority = 1, action { fixed-response { status = 200, type = x } } }"),
                    "fulcrum.listeners[0].rules[0].action.fixed-response.type", "a known key", 3);
        assertError(error("{ priority = 1, action { reject = true } }"),
                    "fulcrum.listeners[0].rules[0].action.reject", "a known action", 3);
    }

    @Test
    void unknownTargetGroups() throws IOException {
        assertError(error("{ priority = 1, action.forward = nope }"),
                    "fulcrum.listeners[0].rules[0].action.forward", "the name of a target group (web, chat)", 3);
        assertError(error("{ priority = 1, action.forward.target-groups = [{ name = web }, { name = nope }] }"),
                    "fulcrum.listeners[0].rules[0].action.forward.target-groups[1].name", "the name of a target group",
                    3);
        assertError(error("default-action.forward = nope", ""), "fulcrum.listeners[0].default-action.forward",
                    "the name of a target group", 2);
    }

    @Test
    void badActions() throws IOException {
        assertError(error("{ priority = 1 }"), "fulcrum.listeners[0].rules[0].action", "{ forward = GROUP }", 3);
        assertError(error("{ priority = 1, action { forward = web, redirect.protocol = https } }"),
                    "fulcrum.listeners[0].rules[0].action", "exactly one action", 3);
        assertError(error("{ priority = 1, action.forward.target-groups = [{ name = web, weight = 1000 }] }"),
                    "fulcrum.listeners[0].rules[0].action.forward.target-groups[0].weight", "between 0 and 999", 3);
        assertError(error("{ priority = 1, action.forward.target-groups = [{ name = web, weight = 0 }] }"),
                    "fulcrum.listeners[0].rules[0].action.forward.target-groups", "at least one weight above 0", 3);
        assertError(error("{ priority = 1, action.forward { target-groups = [web], stickiness = forever } }"),
                    "fulcrum.listeners[0].rules[0].action.forward.stickiness", "a duration", 3);
        assertError(error("{ priority = 1, action.forward { target-groups = [web], stickiness = 1h, forward-cookie = 1s } }"),
                    "fulcrum.listeners[0].rules[0].action.forward.forward-cookie", "true or false", 3);
        assertError(error("{ priority = 1, action.redirect { status = 307, protocol = https } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.status", "between 301 and 302", 3);
        assertError(error("{ priority = 1, action.redirect { protocol = ftp } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.protocol", "http, https", 3);
        assertError(error("{ priority = 1, action.redirect { path = \"/#{paht}\" } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.path", "templates among", 3);
        assertError(error("{ priority = 1, action.redirect { path = \"new\" } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.path", "a path starting with /", 3);
        assertError(error("{ priority = 1, action.redirect { port = 70000 } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect.port", "a port number", 3);
        assertError(error("{ priority = 1, action.redirect { status = 302 } }"),
                    "fulcrum.listeners[0].rules[0].action.redirect", "a redirect that changes", 3);
        assertError(error("{ priority = 1, action.fixed-response { body = x } }"),
                    "fulcrum.listeners[0].rules[0].action.fixed-response.status", "an HTTP status", 3);
        assertError(error("{ priority = 1, action.fixed-response { status = 99 } }"),
                    "fulcrum.listeners[0].rules[0].action.fixed-response.status", "between 200 and 599", 3);
    }

    @Test
    void badConditions() throws IOException {
        String rule = "{ priority = 1, action.forward = web, conditions { %s } }";
        assertError(error(rule.formatted("path = \"/x\"")), "fulcrum.listeners[0].rules[0].conditions.path",
                    "a list of strings", 3);
        assertError(error(rule.formatted("path = [\"x/*\"]")), "fulcrum.listeners[0].rules[0].conditions.path[0]",
                    "a path pattern", 3);
        assertError(error(rule.formatted("host = [\"a.com:80\"]")),
                    "fulcrum.listeners[0].rules[0].conditions.host[0]", "a host name pattern", 3);
        assertError(error(rule.formatted("method = [\"get\"]")),
                    "fulcrum.listeners[0].rules[0].conditions.method[0]", "a method name in capitals", 3);
        assertError(error(rule.formatted("source-ip = [\"10.0.0.0/33\"]")),
                    "fulcrum.listeners[0].rules[0].conditions.source-ip[0]", "a CIDR", 3);
        assertError(error(rule.formatted("header { \"X-A\" = [] }")),
                    "fulcrum.listeners[0].rules[0].conditions.header.X-A", "at least one value pattern", 3);
        assertError(error(rule.formatted("header { \"X A\" = [on] }")),
                    "fulcrum.listeners[0].rules[0].conditions.header.X A", "a header name", 3);
        assertError(error(rule.formatted("query { v = 2 }")),
                    "fulcrum.listeners[0].rules[0].conditions.query.v", "a list of strings", 3);
    }

    @Test
    void defaultActionAndShorthandAreExclusive() throws IOException {
        assertError(error("default-target-group = web, default-action.forward = chat", ""),
                    "fulcrum.listeners[0].default-target-group", "exactly one of default-action and", 2);
        assertError(error("", ""), "fulcrum.listeners[0].default-action", "exactly one of default-action and", 2);
    }
}
