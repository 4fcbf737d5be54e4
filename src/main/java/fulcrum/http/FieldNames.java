package fulcrum.http;

import io.netty.buffer.ByteBuf;
import io.netty.util.AsciiString;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The field names clients send most, in the spellings they send them (as written here and in
 * lower case), shared by every request that spells them so: the usual fields of a request then
 * cost no name objects. A name spelled otherwise gets its own copy, so the target always sees
 * the client's spelling.
 */
final class FieldNames {
    private static final String[] COMMON = {
        "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset", "Connection",
        "Keep-Alive", "Cookie", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "TE",
        "Expect", "Referer", "Origin", "Cache-Control", "Pragma", "Authorization", "Range", "If-Match",
        "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Upgrade", "Upgrade-Insecure-Requests",
        "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
        "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
        "Sec-Ch-Ua-Platform", "Priority", "DNT", "Via", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
        "X-Forwarded-Port", "X-Forwarded-Host", "X-Real-IP", "X-Request-Id", "X-Requested-With", "X-Amzn-Trace-Id",
        "traceparent", "tracestate",
    };
    /** Response fields, for {@link #lowerCase}: HTTP/2 sends every name in lower case. */
    private static final String[] RESPONSE = {
        "Server", "Date", "Content-Type", "Content-Length", "Content-Encoding", "Content-Language",
        "Content-Disposition", "Content-Range", "Content-Security-Policy", "Last-Modified", "ETag", "Accept-Ranges",
        "Cache-Control", "Expires", "Age", "Vary", "Set-Cookie", "Location", "Allow", "Retry-After", "Link",
        "WWW-Authenticate", "Strict-Transport-Security", "X-Powered-By", "X-Content-Type-Options", "X-Frame-Options",
        "Referrer-Policy", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
        "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Expose-Headers",
        "Access-Control-Max-Age", "Alt-Svc", "Via", "X-Request-Id", "grpc-status", "grpc-message", "grpc-encoding",
        "grpc-accept-encoding",
    };
    private static final AsciiString[][] BY_LENGTH;
    private static final AsciiString[][] LOWER_BY_LENGTH;

    static {
        List<String> spellings = new ArrayList<>();
        List<String> lower = new ArrayList<>();
        for (String name : COMMON) {
            spellings.add(name);
            spellings.add(name.toLowerCase(Locale.ROOT));
        }
        for (String[] names : new String[][] {COMMON, RESPONSE}) {
            for (String name : names) {
                lower.add(name.toLowerCase(Locale.ROOT));
            }
        }
        BY_LENGTH = byLength(spellings);
        LOWER_BY_LENGTH = byLength(lower);
    }

    /** The distinct names, grouped by length: index n holds the names n bytes long. */
    private static AsciiString[][] byLength(List<String> names) {
        List<List<AsciiString>> groups = new ArrayList<>();
        for (String name : names) {
            while (groups.size() <= name.length()) {
                groups.add(new ArrayList<>());
            }
            List<AsciiString> same = groups.get(name.length());
            AsciiString s = AsciiString.cached(name);
            if (!same.contains(s)) {
                same.add(s);
            }
        }
        AsciiString[][] table = new AsciiString[groups.size()][];
        for (int i = 0; i < table.length; i++) {
            table[i] = groups.get(i).toArray(new AsciiString[0]);
        }
        return table;
    }

    private FieldNames() {
    }

    /** The shared lower-case name the {@code length} bytes at {@code start} spell in any case, or null. */
    static AsciiString lowerCase(byte[] in, int start, int length) {
        if (length >= LOWER_BY_LENGTH.length) {
            return null;
        }
        for (AsciiString candidate : LOWER_BY_LENGTH[length]) {
            if (Bytes.spellsIgnoringCase(candidate, in, start)) {
                return candidate;
            }
        }
        return null;
    }

    /** The shared name spelled exactly as the {@code length} bytes at {@code start}, or null. */
    static AsciiString of(ByteBuf in, int start, int length) {
        if (length >= BY_LENGTH.length) {
            return null;
        }
        for (AsciiString candidate : BY_LENGTH[length]) {
            if (Bytes.spells(candidate, in, start)) {
                return candidate;
            }
        }
        return null;
    }
}
