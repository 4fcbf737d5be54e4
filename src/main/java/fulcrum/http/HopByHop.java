package fulcrum.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The fields that belong to one connection and are not forwarded (RFC 9110 7.6.1), in both
 * directions, and the one reader of Connection values.
 *
 * <p>The table is what both directions strip: Connection and every field it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Proxy-Authenticate, and Upgrade unless the exchange is
 * switching protocols. Transfer-Encoding is hop-by-hop too but is not in the table: a body is
 * forwarded in the framing it arrived in, so the field stays true of the bytes that follow it
 * (a request's chunk extensions and parameters are removed by the decoder; an HTTP/1.0 client's
 * response is re-framed by the frontend). Proxy-Authenticate is a response field stripped from
 * requests too, which costs nothing and keeps one table.
 *
 * <p>{@link fulcrum.http.RequestDecoder}'s requests are stripped through
 * {@link ForwardingHeaders#request}, {@link ResponseDecoder}'s responses through
 * {@link ForwardingHeaders#response}; the response decoder uses {@link #FIELDS} and
 * {@link #names} to parse exactly the fields stripping needs, leaving the rest as bytes.
 */
final class HopByHop {
    static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");

    /** Stripped in both directions; {@code upgrade} only when not switching protocols. */
    static final AsciiString[] FIELDS = {
        HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE, PROXY_CONNECTION, HttpHeaderNames.TE,
        HttpHeaderNames.TRAILER, HttpHeaderNames.PROXY_AUTHENTICATE, HttpHeaderNames.UPGRADE,
    };

    private HopByHop() {
    }

    /**
     * Removes the hop-by-hop fields from a head, in place.
     *
     * @param upgrade the exchange is switching protocols: Upgrade, and "upgrade" in Connection,
     *                stay for the caller to set
     */
    static void strip(HttpHeaders h, boolean upgrade) {
        List<String> named = null;
        if (h.contains(HttpHeaderNames.CONNECTION)) {
            Iterator<? extends CharSequence> values = h.valueCharSequenceIterator(HttpHeaderNames.CONNECTION);
            while (values.hasNext()) {
                named = namedFields(values.next(), upgrade, named);
            }
        }
        if (named != null) {
            for (String name : named) {
                h.remove(name);
            }
        }
        for (AsciiString name : FIELDS) {
            if (!upgrade || name != HttpHeaderNames.UPGRADE) {
                h.remove(name);
            }
        }
    }

    /**
     * The fields a Connection value names, added to {@code named} (created when the first is
     * found). keep-alive and close name nothing left to remove, and are the usual values: they
     * cost no allocation.
     */
    static List<String> namedFields(CharSequence value, boolean upgrade, List<String> named) {
        for (int start = nextNamed(value, 0, upgrade); start >= 0;
             start = nextNamed(value, elementEnd(value, start) + 1, upgrade)) {
            if (named == null) {
                named = new ArrayList<>(2);
            }
            named.add(value.subSequence(start, trimEnd(value, start, elementEnd(value, start))).toString());
        }
        return named;
    }

    /** Whether a Connection value names a field other than keep-alive and close. */
    static boolean namesFields(CharSequence value) {
        return nextNamed(value, 0, false) >= 0;
    }

    /**
     * Where the next element of a Connection value at or after {@code from} starts that names a
     * field (not keep-alive, close, or upgrade when switching); -1 when none does.
     */
    private static int nextNamed(CharSequence value, int from, boolean upgrade) {
        int n = value.length();
        int start = skipOws(value, from);
        while (start < n) {
            int comma = elementEnd(value, start);
            int end = trimEnd(value, start, comma);
            if (end > start && !isToken(value, start, end, HttpHeaderValues.KEEP_ALIVE)
                && !isToken(value, start, end, HttpHeaderValues.CLOSE)
                && !(upgrade && isToken(value, start, end, HttpHeaderValues.UPGRADE))) {
                return start;
            }
            start = skipOws(value, comma + 1);
        }
        return -1;
    }

    /** Whether a Connection value names the field whose name is {@code h[nameStart, nameEnd)}. */
    static boolean names(CharSequence value, byte[] h, int nameStart, int nameEnd) {
        int n = value.length();
        int length = nameEnd - nameStart;
        int start = skipOws(value, 0);
        while (start < n) {
            int comma = elementEnd(value, start);
            int end = trimEnd(value, start, comma);
            if (end - start == length && sameName(value, start, h, nameStart, length)) {
                return true;
            }
            start = skipOws(value, comma + 1);
        }
        return false;
    }

    // One reading of "#token" (RFC 9110 5.6.1) for all of the above: elements split on commas,
    // OWS around each trimmed, empty elements ignored. Nothing is allocated to read one.

    private static int skipOws(CharSequence value, int i) {
        int n = value.length();
        while (i < n && isOws(value.charAt(i))) {
            i++;
        }
        return i;
    }

    /** The index of the comma ending the element at {@code start}, or the value's length. */
    private static int elementEnd(CharSequence value, int start) {
        int n = value.length();
        int i = start;
        while (i < n && value.charAt(i) != ',') {
            i++;
        }
        return i;
    }

    private static int trimEnd(CharSequence value, int start, int end) {
        while (end > start && isOws(value.charAt(end - 1))) {
            end--;
        }
        return end;
    }

    private static boolean isOws(char c) {
        return c == ' ' || c == '\t';
    }

    private static boolean isToken(CharSequence value, int start, int end, AsciiString token) {
        return end - start == token.length() && AsciiString.regionMatches(value, true, start, token, 0, token.length());
    }

    private static boolean sameName(CharSequence value, int start, byte[] h, int nameStart, int length) {
        for (int i = 0; i < length; i++) {
            if (lower(value.charAt(start + i)) != lower((char) (h[nameStart + i] & 0xff))) {
                return false;
            }
        }
        return true;
    }

    private static char lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
    }
}
