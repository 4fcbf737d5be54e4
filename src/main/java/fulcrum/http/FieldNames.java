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
    private static final AsciiString[][] BY_LENGTH;

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
    }

    private FieldNames() {
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
