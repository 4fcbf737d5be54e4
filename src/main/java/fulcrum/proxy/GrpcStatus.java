package fulcrum.proxy;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;

/**
 * The answers Fulcrum gives a grpc target group's clients itself, in gRPC's terms (its HTTP/2
 * protocol spec): a failure is a {@code grpc-status} with a {@code grpc-message}, in a
 * trailers-only 200 response before anything was answered, in trailers after.
 */
final class GrpcStatus {
    static final AsciiString TIMEOUT = AsciiString.cached("grpc-timeout");
    static final AsciiString STATUS = AsciiString.cached("grpc-status");
    static final AsciiString MESSAGE = AsciiString.cached("grpc-message");
    private static final long MAX_TIMEOUT_NANOS = 100L * 24 * 3_600_000_000_000L;
    private static final AsciiString APPLICATION_GRPC = AsciiString.cached("application/grpc");

    static final int DEADLINE_EXCEEDED = 4;
    static final int RESOURCE_EXHAUSTED = 8;
    static final int INTERNAL = 13;
    static final int UNAVAILABLE = 14;

    private GrpcStatus() {
    }

    /** The gRPC status for a failure Fulcrum would otherwise answer with {@code error}. */
    static int code(HttpResponseStatus error) {
        return switch (error.code()) {
            case 504 -> DEADLINE_EXCEEDED;
            case 502, 503 -> UNAVAILABLE;
            case 413, 431 -> RESOURCE_EXHAUSTED;
            default -> INTERNAL;
        };
    }

    private static String message(HttpResponseStatus error) {
        return switch (error.code()) {
            case 503 -> "no healthy target";
            case 502 -> "target unavailable";
            case 504 -> "deadline exceeded waiting for the target";
            default -> error.reasonPhrase();
        };
    }

    /** A trailers-only response: status 200, the gRPC status in its one HEADERS frame. */
    static FullHttpResponse response(HttpResponseStatus error) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                                           Unpooled.EMPTY_BUFFER);
        res.headers()
           .set(HttpHeaderNames.CONTENT_TYPE, APPLICATION_GRPC)
           .setInt(STATUS, code(error))
           .set(MESSAGE, message(error))
           // An HTTP/1.1 client needs the end stated; HTTP/2 ends the stream with the HEADERS.
           .setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        return res;
    }

    /** Trailers that end a response the target left unfinished. */
    static LastHttpContent trailers(HttpResponseStatus error) {
        LastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
        HttpHeaders t = last.trailingHeaders();
        t.setInt(STATUS, code(error)).set(MESSAGE, message(error));
        return last;
    }

    /**
     * A {@code grpc-timeout} value (1 to 8 digits and a unit: H, M, S, m, u, n) in nanoseconds;
     * -1 when absent or not well formed, which gRPC servers treat as no deadline too.
     */
    static long timeoutNanos(String value) {
        if (value == null || value.length() < 2 || value.length() > 9) {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < value.length() - 1; i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        long unit = switch (value.charAt(value.length() - 1)) {
            case 'H' -> 3_600_000_000_000L;
            case 'M' -> 60_000_000_000L;
            case 'S' -> 1_000_000_000L;
            case 'm' -> 1_000_000L;
            case 'u' -> 1_000L;
            case 'n' -> 1L;
            default -> -1L;
        };
        // Capped well inside a long, so a deadline computed from it cannot wrap.
        return unit < 0 ? -1 : Math.min(n, MAX_TIMEOUT_NANOS / unit) * unit;
    }
}
