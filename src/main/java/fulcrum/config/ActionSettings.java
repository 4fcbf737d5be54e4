package fulcrum.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** What a listener does with a request a rule (or the default action) took. */
public sealed interface ActionSettings {

    /** To one target group, or spread by weight over several, optionally keeping a client in one. */
    record Forward(List<WeightedGroup> targetGroups, Duration stickiness, String cookieName, String secret,
                   boolean forwardCookie) implements ActionSettings {
        public Forward {
            targetGroups = List.copyOf(targetGroups);
        }

        static Forward to(String group) {
            return new Forward(List.of(new WeightedGroup(group, 1)), null, null, null, false);
        }
    }

    record WeightedGroup(String name, int weight) {
    }

    /** A redirect; each field is a template over #{protocol}, #{host}, #{port}, #{path}, #{query}. */
    record Redirect(int status, String protocol, String host, String port, String path, String query)
            implements ActionSettings {
    }

    record FixedResponse(int status, String contentType, String body) implements ActionSettings {
    }

    List<String> TEMPLATES = List.of("protocol", "host", "port", "path", "query");
    String EXPECTED = "{ forward = GROUP }, { forward { ... } }, { redirect { ... } } or { fixed-response { ... } }";
    int MAX_BODY = 64 * 1024;

    /**
     * Binds {@code v}, an object with exactly one of forward, redirect, fixed-response, at
     * {@code key}; {@code defaults} is {@code fulcrum.action-defaults}.
     */
    static ActionSettings from(String key, ConfigValue v, Config defaults, Set<String> groups) {
        String expected = EXPECTED;
        if (v == null || v.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(key, v == null ? "(missing)" : v.render(), expected,
                                       v == null ? null : v.origin());
        }
        ConfigObject o = (ConfigObject) v;
        if (o.size() != 1) {
            throw SettingsException.of(key, o.render(), "exactly one action: " + expected, o.origin());
        }
        String kind = o.keySet().iterator().next();
        ConfigValue body = o.get(kind);
        String path = key + "." + kind;
        return switch (kind) {
            case "forward" -> forward(path, body, defaults, groups);
            case "redirect" -> redirect(path, body, reader(path, body, defaults, kind));
            case "fixed-response" -> {
                Reader r = reader(path, body, defaults, kind);
                yield fixedResponse(path, (ConfigObject) body, r);
            }
            default -> throw SettingsException.of(path, body.render(),
                                                  "a known action; known here: fixed-response, forward, redirect",
                                                  body.origin());
        };
    }

    /** A key without a default: its absence is reported where the user's object is. */
    static void required(String path, ConfigObject o, String key, String expected) {
        ConfigValue v = o.get(key);
        if (v == null || v.valueType() == ConfigValueType.NULL) {
            throw SettingsException.of(path + "." + key, v == null ? "(missing)" : "null", expected, o.origin());
        }
    }

    private static Reader reader(String path, ConfigValue body, Config defaults, String kind) {
        if (body.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(path, body.render(), "an object { ... }", body.origin());
        }
        ConfigValue ref = defaults.root().get(kind);
        KeyCheck.object(path, body, ref);
        return new Reader(((ConfigObject) body).toConfig().withFallback(defaults.getConfig(kind)), path);
    }

    private static Forward forward(String path, ConfigValue body, Config defaults, Set<String> groups) {
        if (body.valueType() == ConfigValueType.STRING) {
            String name = (String) body.unwrapped();
            checkGroup(path, name, body, groups);
            return Forward.to(name);
        }
        if (body.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(path, body.render(), "a target group name or { target-groups = [...] }",
                                       body.origin());
        }
        Reader r = reader(path, body, defaults, "forward");
        ConfigList list = r.list("target-groups");
        if (list.isEmpty()) {
            throw r.error("target-groups", "[]", "at least one { name = GROUP, weight = 0-999 }");
        }
        List<WeightedGroup> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        int total = 0;
        int i = 0;
        for (ConfigValue item : list) {
            String itemKey = r.path("target-groups") + "[" + i++ + "]";
            WeightedGroup g = weightedGroup(itemKey, item, groups);
            if (!seen.add(g.name())) {
                throw SettingsException.of(itemKey + ".name", g.name(), "each target group once", item.origin());
            }
            total += g.weight();
            out.add(g);
        }
        if (total == 0) {
            throw r.error("target-groups", list.render(), "at least one weight above 0");
        }
        Duration stickiness = r.isNull("stickiness") ? null : r.duration("stickiness", false);
        String cookieName = r.string("cookie-name");
        if (!StickinessSettings.isToken(cookieName)) {
            throw r.error("cookie-name", cookieName, "a cookie name (letters, digits, - _ .)");
        }
        String secret = r.optionalString("secret");
        if (secret != null && secret.length() < 16) {
            throw r.error("secret", "(" + secret.length() + " characters)", "at least 16 characters");
        }
        return new Forward(out, stickiness, cookieName, secret, r.bool("forward-cookie"));
    }

    private static WeightedGroup weightedGroup(String key, ConfigValue item, Set<String> groups) {
        if (item.valueType() == ConfigValueType.STRING) {
            String name = (String) item.unwrapped();
            checkGroup(key, name, item, groups);
            return new WeightedGroup(name, 1);
        }
        if (item.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(key, item.render(), "{ name = GROUP, weight = 0-999 }", item.origin());
        }
        ConfigObject o = (ConfigObject) item;
        for (String k : o.keySet()) {
            if (!k.equals("name") && !k.equals("weight")) {
                throw SettingsException.of(key + "." + k, o.get(k).render(),
                                           "a known key; this one is unknown, known here: name, weight",
                                           o.get(k).origin());
            }
        }
        Reader r = new Reader(o.toConfig(), key);
        String name = r.string("name");
        checkGroup(key + ".name", name, o.get("name"), groups);
        int weight = r.isNull("weight") ? 1 : r.integer("weight", 0, 999);
        return new WeightedGroup(name, weight);
    }

    private static void checkGroup(String key, String name, ConfigValue v, Set<String> groups) {
        if (!groups.contains(name)) {
            throw SettingsException.of(key, name, "the name of a target group (" + String.join(", ", groups) + ")",
                                       v.origin());
        }
    }

    private static Redirect redirect(String path, ConfigValue body, Reader r) {
        int status = r.integer("status", 301, 302);
        String protocol = template(r, "protocol");
        String lower = protocol.toLowerCase(Locale.ROOT);
        if (!lower.equals("http") && !lower.equals("https") && !protocol.equals("#{protocol}")) {
            throw r.error("protocol", protocol, "http, https or \"#{protocol}\"");
        }
        String host = template(r, "host");
        if (host.isEmpty() || host.indexOf('/') >= 0 || host.indexOf(':') >= 0 || host.indexOf('?') >= 0) {
            throw r.error("host", "\"" + host + "\"", "a host name (without port or path), or a template");
        }
        String port = template(r, "port");
        if (!port.equals("#{port}")) {
            int p;
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 1 || p > 65535) {
                throw r.error("port", port, "a port number (1-65535) or \"#{port}\"");
            }
        }
        String toPath = template(r, "path");
        if (!toPath.startsWith("/")) {
            throw r.error("path", "\"" + toPath + "\"", "a path starting with /");
        }
        String query = template(r, "query");
        if (query.startsWith("?")) {
            throw r.error("query", "\"" + query + "\"", "a query without its leading ?");
        }
        Redirect d = new Redirect(status, lower.equals("#{protocol}") ? protocol : lower, host, port, toPath, query);
        if (d.protocol().equals("#{protocol}") && host.equals("#{host}") && port.equals("#{port}")
            && toPath.equals("/#{path}") && query.equals("#{query}")) {
            throw SettingsException.of(path, body.render(),
                                       "a redirect that changes at least one of protocol, host, port, path, query",
                                       body.origin());
        }
        return d;
    }

    /** A string whose #{...} placeholders all name known templates. */
    private static String template(Reader r, String key) {
        String s = r.string(key);
        int i = 0;
        while ((i = s.indexOf("#{", i)) >= 0) {
            int end = s.indexOf('}', i);
            String name = end < 0 ? "" : s.substring(i + 2, end);
            if (!TEMPLATES.contains(name)) {
                throw r.error(key, "\"" + s + "\"", "templates among #{protocol}, #{host}, #{port}, #{path}, #{query}");
            }
            i = end + 1;
        }
        for (int j = 0; j < s.length(); j++) {
            if (s.charAt(j) <= ' ' || s.charAt(j) == 0x7f) {
                throw r.error(key, "\"" + s + "\"", "no spaces or control characters");
            }
        }
        return s;
    }

    private static FixedResponse fixedResponse(String path, ConfigObject o, Reader r) {
        required(path, o, "status", "an HTTP status between 200 and 599");
        int status = r.integer("status", 200, 599);
        String contentType = r.string("content-type");
        if (contentType.isBlank() || contentType.indexOf('\r') >= 0 || contentType.indexOf('\n') >= 0) {
            throw r.error("content-type", "\"" + contentType + "\"", "a media type such as text/plain");
        }
        String body = r.string("body");
        int bytes = body.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_BODY) {
            throw r.error("body", "(" + bytes + " bytes)", "at most " + MAX_BODY + " bytes");
        }
        return new FixedResponse(status, contentType, body);
    }
}
