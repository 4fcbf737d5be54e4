package fulcrum.balance;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

import java.util.ArrayList;
import java.util.List;

/**
 * Removes the balancer's own cookies from what a target receives (HAProxy's {@code cookie ...
 * indirect}): they are the balancer's business, and an application that checks the cookies it
 * gets should see only its own.
 */
public final class CookieHeaders {
    private CookieHeaders() {
    }

    /**
     * Removes every {@code name=...} pair from every {@code Cookie} field of {@code headers},
     * keeping the other pairs and their separators as they were, and a field left empty not at
     * all. Returns whether anything was removed. Allocates nothing when no field holds
     * {@code name}.
     */
    public static boolean stripCookie(HttpHeaders headers, String name) {
        if (!mayHold(headers, name)) {
            return false;
        }
        List<String> kept = new ArrayList<>(2);
        boolean removed = false;
        for (String field : headers.getAll(HttpHeaderNames.COOKIE)) {
            String rest = without(field, name);
            removed |= rest != field;
            if (!rest.isEmpty()) {
                kept.add(rest);
            }
        }
        if (removed) {
            headers.remove(HttpHeaderNames.COOKIE);
            for (String field : kept) {
                headers.add(HttpHeaderNames.COOKIE, field);
            }
        }
        return removed;
    }

    private static boolean mayHold(HttpHeaders headers, String name) {
        if (!headers.contains(HttpHeaderNames.COOKIE)) {
            return false;
        }
        for (var it = headers.valueCharSequenceIterator(HttpHeaderNames.COOKIE); it.hasNext(); ) {
            if (it.next().toString().contains(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code field} (one Cookie header value) without its {@code name=...} pairs: the same
     * instance when it has none, "" when nothing else is left. A pair goes with the separator
     * before it, or after it when it is the first.
     */
    static String without(String field, String name) {
        StringBuilder out = null;
        int len = field.length();
        int keptUpTo = 0; // field[0, keptUpTo) is settled: in out, or (out == null) left as it is
        boolean pairBefore = false;
        for (int segment = 0; segment <= len; ) {
            int end = field.indexOf(';', segment);
            if (end < 0) {
                end = len;
            }
            int pair = skipBlanks(field, segment, end);
            if (end - pair > name.length() && field.charAt(pair + name.length()) == '='
                && field.startsWith(name, pair)) {
                if (out == null) {
                    out = new StringBuilder(len);
                }
                if (pairBefore) {
                    out.append(field, keptUpTo, segment - 1); // with the ';' before it
                    keptUpTo = end;
                } else {
                    keptUpTo = skipBlanks(field, Math.min(len, end + 1), len); // with the ';' after it
                }
            } else {
                pairBefore |= pair < end;
            }
            segment = end + 1;
        }
        if (out == null) {
            return field;
        }
        return out.append(field, keptUpTo, len).toString();
    }

    private static int skipBlanks(String s, int from, int to) {
        while (from < to && (s.charAt(from) == ' ' || s.charAt(from) == '\t')) {
            from++;
        }
        return from;
    }
}
