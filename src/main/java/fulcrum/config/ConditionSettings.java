package fulcrum.config;

import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a request must look like for a rule to apply. Every non-empty field must match; the
 * entries of one field are alternatives. Patterns are kept as written ({@code *} and {@code ?}
 * wildcards) and compiled by the router.
 */
public record ConditionSettings(List<String> hosts, List<String> paths, Map<String, List<String>> headers,
                                List<String> methods, Map<String, List<String>> query, List<Cidr> sourceIps) {
    private static final int MAX_PATTERN = 512;

    public ConditionSettings {
        hosts = List.copyOf(hosts);
        paths = List.copyOf(paths);
        headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        methods = List.copyOf(methods);
        query = Collections.unmodifiableMap(new LinkedHashMap<>(query));
        sourceIps = List.copyOf(sourceIps);
    }

    public boolean isEmpty() {
        return hosts.isEmpty() && paths.isEmpty() && headers.isEmpty() && methods.isEmpty() && query.isEmpty()
               && sourceIps.isEmpty();
    }

    static ConditionSettings from(Reader r) {
        List<String> hosts = patterns(r, "host");
        for (int i = 0; i < hosts.size(); i++) {
            String h = hosts.get(i);
            for (int j = 0; j < h.length(); j++) {
                char c = h.charAt(j);
                if (!(Character.isLetterOrDigit(c) && c < 0x80) && c != '-' && c != '.' && c != '*' && c != '?'
                    && c != '_') {
                    throw SettingsException.of(r.path("host") + "[" + i + "]", h,
                                               "a host name pattern (letters, digits, - . _ * ?; no port)",
                                               r.origin("host"));
                }
            }
        }
        List<String> paths = patterns(r, "path");
        for (int i = 0; i < paths.size(); i++) {
            String p = paths.get(i);
            if (!p.startsWith("/") && !p.startsWith("*") || containsSpace(p)) {
                throw SettingsException.of(r.path("path") + "[" + i + "]", p,
                                           "a path pattern starting with / or *, without spaces", r.origin("path"));
            }
        }
        List<String> methods = r.strings("method");
        for (int i = 0; i < methods.size(); i++) {
            String m = methods.get(i);
            if (m.isEmpty() || !m.chars().allMatch(c -> c >= 'A' && c <= 'Z' || c == '-' || c == '_')) {
                throw SettingsException.of(r.path("method") + "[" + i + "]", m,
                                           "a method name in capitals, such as GET", r.origin("method"));
            }
        }
        List<Cidr> sourceIps = new ArrayList<>();
        List<String> cidrs = r.strings("source-ip");
        for (int i = 0; i < cidrs.size(); i++) {
            try {
                sourceIps.add(Cidr.parse(cidrs.get(i)));
            } catch (IllegalArgumentException e) {
                throw SettingsException.of(r.path("source-ip") + "[" + i + "]", cidrs.get(i),
                                           "a CIDR such as 10.0.0.0/8: " + e.getMessage(), r.origin("source-ip"));
            }
        }
        return new ConditionSettings(hosts, paths, named(r, "header", true), methods, named(r, "query", false),
                                     sourceIps);
    }

    private static List<String> patterns(Reader r, String key) {
        List<String> out = r.strings(key);
        for (int i = 0; i < out.size(); i++) {
            String p = out.get(i);
            if (p.isEmpty() || p.length() > MAX_PATTERN) {
                throw SettingsException.of(r.path(key) + "[" + i + "]", "\"" + p + "\"",
                                           "a pattern of 1 to " + MAX_PATTERN + " characters", r.origin(key));
            }
        }
        return out;
    }

    /** {@code header { name = [patterns] }} or {@code query { key = [patterns] }}. */
    private static Map<String, List<String>> named(Reader r, String key, boolean headerNames) {
        ConfigObject o = r.object(key);
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigValue> e : o.entrySet()) {
            String name = e.getKey();
            String path = r.path(key) + "." + name;
            if (name.isEmpty() || headerNames && !StickinessSettings.isToken(name)) {
                throw SettingsException.of(path, e.getValue().render(), "a header name (letters, digits, - _ .)",
                                           e.getValue().origin());
            }
            Reader entry = new Reader(o.toConfig(), r.path(key));
            List<String> values = patterns(entry, name);
            if (values.isEmpty()) {
                throw SettingsException.of(path, "[]", "at least one value pattern", e.getValue().origin());
            }
            out.put(name, values);
        }
        return out;
    }

    private static boolean containsSpace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) <= ' ') {
                return true;
            }
        }
        return false;
    }
}
