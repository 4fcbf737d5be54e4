package fulcrum.routing;

import fulcrum.config.Cidr;
import fulcrum.config.ConditionSettings;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AsciiString;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** One test a request must pass for its rule to apply; built once from the settings. */
interface Condition {

    boolean test(RequestFacts r);

    /** The conditions of {@code s}, cheapest first. */
    static Condition[] compile(ConditionSettings s) {
        List<Condition> out = new ArrayList<>();
        if (!s.methods().isEmpty()) {
            out.add(new Method(s.methods().toArray(new String[0])));
        }
        if (!s.sourceIps().isEmpty()) {
            out.add(new SourceIp(s.sourceIps().toArray(new Cidr[0])));
        }
        if (!s.hosts().isEmpty()) {
            out.add(new Host(globs(s.hosts(), true)));
        }
        if (!s.paths().isEmpty()) {
            out.add(new Path(globs(s.paths(), false)));
        }
        for (Map.Entry<String, List<String>> e : s.headers().entrySet()) {
            out.add(new Header(AsciiString.cached(e.getKey()), globs(e.getValue(), true)));
        }
        for (Map.Entry<String, List<String>> e : s.query().entrySet()) {
            out.add(new Query(e.getKey(), globs(e.getValue(), true)));
        }
        return out.toArray(new Condition[0]);
    }

    private static Glob[] globs(List<String> patterns, boolean ignoreCase) {
        Glob[] out = new Glob[patterns.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Glob.compile(patterns.get(i), ignoreCase);
        }
        return out;
    }

    private static boolean any(Glob[] globs, CharSequence s, int from, int to) {
        for (Glob g : globs) {
            if (g.matches(s, from, to)) {
                return true;
            }
        }
        return false;
    }

    /** Host header, port ignored, case-insensitive. */
    record Host(Glob[] patterns) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            String h = r.hostHeader();
            return h != null && any(patterns, h, 0, r.hostEnd());
        }
    }

    /** The path, without the query; case-sensitive. */
    record Path(Glob[] patterns) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            return any(patterns, r.uri(), r.pathStart(), r.pathEnd());
        }
    }

    /** The method, exactly. */
    record Method(String[] names) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            String m = r.request.method().name();
            for (String n : names) {
                if (n.equals(m)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Some value of header {@code name} matches one of the patterns, case-insensitive. */
    record Header(AsciiString name, Glob[] patterns) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            Iterator<? extends CharSequence> values = r.request.headers().valueCharSequenceIterator(name);
            while (values.hasNext()) {
                CharSequence v = values.next();
                if (any(patterns, v, 0, v.length())) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Some parameter {@code key} (case-insensitive) has a value matching one of the patterns. */
    record Query(String key, Glob[] patterns) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            int q = r.queryStart();
            if (q < 0) {
                return false;
            }
            String uri = r.uri();
            int end = uri.indexOf('#', q);
            end = end < 0 ? uri.length() : end;
            int i = q;
            while (i <= end) {
                int amp = uri.indexOf('&', i);
                int pairEnd = amp < 0 || amp > end ? end : amp;
                int eq = uri.indexOf('=', i);
                int keyEnd = eq < 0 || eq > pairEnd ? pairEnd : eq;
                int valueStart = keyEnd == pairEnd ? pairEnd : keyEnd + 1;
                if (keyMatches(uri, i, keyEnd) && valueMatches(uri, valueStart, pairEnd)) {
                    return true;
                }
                i = pairEnd + 1;
            }
            return false;
        }

        private boolean keyMatches(String uri, int from, int to) {
            if (needsDecoding(uri, from, to)) {
                return QueryStringDecoder.decodeComponent(uri.substring(from, to)).equalsIgnoreCase(key);
            }
            return to - from == key.length() && uri.regionMatches(true, from, key, 0, key.length());
        }

        private boolean valueMatches(String uri, int from, int to) {
            if (needsDecoding(uri, from, to)) {
                String v = QueryStringDecoder.decodeComponent(uri.substring(from, to));
                return any(patterns, v, 0, v.length());
            }
            return any(patterns, uri, from, to);
        }

        private static boolean needsDecoding(String s, int from, int to) {
            for (int i = from; i < to; i++) {
                char c = s.charAt(i);
                if (c == '%' || c == '+') {
                    return true;
                }
            }
            return false;
        }
    }

    /** The TCP peer's address lies in one of the blocks. */
    record SourceIp(Cidr[] blocks) implements Condition {
        @Override
        public boolean test(RequestFacts r) {
            InetAddress a = r.client == null ? null : r.client.getAddress();
            if (a == null) {
                return false;
            }
            for (Cidr c : blocks) {
                if (c.contains(a)) {
                    return true;
                }
            }
            return false;
        }
    }
}
