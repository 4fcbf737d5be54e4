package fulcrum.http;

import io.netty.util.AsciiString;
import java.util.List;

/**
 * Parsing of the two fields that decide where a request ends. Both work on the bytes of one
 * field value, already checked to be free of control bytes and trimmed of surrounding OWS.
 */
final class Framing {
    /** {@link #contentLength} result: not a list of decimal numbers. */
    static final long INVALID = -1;
    /** {@link #contentLength} result: a list of different numbers. */
    static final long CONFLICTING = -2;

    /** {@link #transferEncoding} results. */
    static final int LAST_IS_CHUNKED = 1;
    static final int LAST_IS_OTHER = 0;
    static final int CHUNKED_TWICE = -1;
    static final int CHUNKED_NOT_LAST = -2;
    static final int MALFORMED = -3;

    private static final AsciiString CHUNKED = AsciiString.cached("chunked");

    private Framing() {
    }

    /**
     * The value of a Content-Length field: 1*DIGIT, or a list of identical 1*DIGIT that an
     * intermediary produced by combining duplicates (RFC 9112 6.3 lets us replace it with one).
     * No sign, no spaces inside a number, nothing above {@link Long#MAX_VALUE}: each of these is
     * read differently by some parser behind us.
     */
    static long contentLength(AsciiString value) {
        byte[] a = value.array();
        int i = value.arrayOffset();
        int end = i + value.length();
        long result = INVALID;
        boolean conflicting = false;
        while (true) {
            while (i < end && Bytes.isOws(a[i])) {
                i++;
            }
            int digits = i;
            long n = 0;
            while (i < end && a[i] >= '0' && a[i] <= '9') {
                if (n > (Long.MAX_VALUE - (a[i] - '0')) / 10) {
                    return INVALID;
                }
                n = n * 10 + (a[i] - '0');
                i++;
            }
            if (i == digits) {
                return INVALID;
            }
            while (i < end && Bytes.isOws(a[i])) {
                i++;
            }
            if (result >= 0 && result != n) {
                conflicting = true;
            }
            result = n;
            if (i == end) {
                return conflicting ? CONFLICTING : result;
            }
            if (a[i] != ',') {
                return INVALID;
            }
            i++;
        }
    }

    /**
     * Transfer-Encoding values as one list without parameters: "gzip;x, chunked;y" becomes
     * "gzip, chunked". Only for values {@link #transferEncoding} accepted.
     */
    static String withoutParameters(List<String> values) {
        StringBuilder s = new StringBuilder();
        for (String value : values) {
            for (String element : value.split(",")) {
                int semicolon = element.indexOf(';');
                String coding = (semicolon < 0 ? element : element.substring(0, semicolon)).strip();
                if (!coding.isEmpty()) {
                    s.append(s.length() == 0 ? "" : ", ").append(coding);
                }
            }
        }
        return s.toString();
    }

    static boolean isList(AsciiString value) {
        return value.indexOf(',', 0) >= 0;
    }

    /**
     * Folds one Transfer-Encoding field value into what earlier fields said: whether chunked
     * is now the final coding. Transfer codings are tokens, optionally with parameters;
     * chunked has none and may appear once, last (RFC 9112 6.1, 7).
     *
     * @param chunkedSoFar whether the codings seen in earlier fields ended in chunked
     * @param elements receives the number of non-empty elements at index 0, and at index 1 the
     *                 number of chunked elements with parameters (which the caller removes)
     */
    static int transferEncoding(AsciiString value, boolean chunkedSoFar, int[] elements) {
        byte[] a = value.array();
        int i = value.arrayOffset();
        int end = i + value.length();
        boolean chunkedLast = chunkedSoFar;
        while (i <= end) {
            while (i < end && Bytes.isOws(a[i])) {
                i++;
            }
            if (i == end) {
                break;
            }
            if (a[i] == ',') {
                // RFC 9110 5.6.1: empty list elements are ignored.
                i++;
                continue;
            }
            int start = i;
            while (i < end && Bytes.isToken(a[i])) {
                i++;
            }
            if (i == start) {
                return MALFORMED;
            }
            boolean chunked = value.subSequence(start - value.arrayOffset(), i - value.arrayOffset(), false)
                    .contentEqualsIgnoreCase(CHUNKED);
            while (i < end && Bytes.isOws(a[i])) {
                i++;
            }
            if (i < end && a[i] == ';') {
                if (chunked) {
                    elements[1]++;
                }
                // Parameters of another coding: we neither apply nor remove it, the backend does.
                while (i < end && a[i] != ',') {
                    i++;
                }
            }
            if (i < end && a[i] != ',') {
                return MALFORMED;
            }
            if (chunkedLast) {
                return chunked ? CHUNKED_TWICE : CHUNKED_NOT_LAST;
            }
            chunkedLast = chunked;
            elements[0]++;
            i++;
        }
        return chunkedLast ? LAST_IS_CHUNKED : LAST_IS_OTHER;
    }
}
