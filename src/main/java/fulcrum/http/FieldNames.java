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
        List<List<AsciiString>> byLength = new ArrayList<>();
        for (String name : COMMON) {
            for (String spelling : new String[] {name, name.toLowerCase(Locale.ROOT)}) {
                while (byLength.size() <= spelling.length()) {
                    byLength.add(new ArrayList<>());
                }
                List<AsciiString> same = byLength.get(spelling.length());
                AsciiString s = AsciiString.cached(spelling);
                if (!same.contains(s)) {
                    same.add(s);
                }
            }
        }
        BY_LENGTH = new AsciiString[byLength.size()][];
        for (int i = 0; i < BY_LENGTH.length; i++) {
            BY_LENGTH[i] = byLength.get(i).toArray(new AsciiString[0]);
        }
        List<List<AsciiString>> lower = new ArrayList<>();
        for (String[] names : new String[][] {COMMON, RESPONSE}) {
            for (String name : names) {
                while (lower.size() <= name.length()) {
                    lower.add(new ArrayList<>());
                }
                AsciiString s = AsciiString.cached(name.toLowerCase(Locale.ROOT));
                if (!lower.get(name.length()).contains(s)) {
                    lower.get(name.length()).add(s);
                }
            }
        }
        LOWER_BY_LENGTH = new AsciiString[lower.size()][];
        for (int i = 0; i < LOWER_BY_LENGTH.length; i++) {
            LOWER_BY_LENGTH[i] = lower.get(i).toArray(new AsciiString[0]);
        }
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
