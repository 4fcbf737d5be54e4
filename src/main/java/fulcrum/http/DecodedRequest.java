package fulcrum.http;

import static java.util.Objects.requireNonNull;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;

/**
 * A request head that {@link RequestDecoder} accepted, with what it noticed about its framing.
 * Its headers are already normalised (one Content-Length, no Content-Length beside chunked,
 * origin-form target with a Host that matches).
 */
public final class DecodedRequest extends DefaultHttpRequest {
    private final DesyncClass desyncClass;
    private final String desyncReason;
    private final boolean closeAfter;

    DecodedRequest(HttpVersion version, HttpMethod method, String uri, HttpHeaders headers,
                   DesyncClass desyncClass, String desyncReason, boolean closeAfter) {
        // The decoder has checked method and target byte by byte; Netty need not scan them again.
        super(version, method, uri, headers, false);
        this.desyncClass = requireNonNull(desyncClass, "desyncClass");
        this.desyncReason = requireNonNull(desyncReason, "desyncReason");
        this.closeAfter = closeAfter;
    }

    public DesyncClass desyncClass() {
        return desyncClass;
    }

    /** Why the request got its class; "compliant" for a clean request. For access logs. */
    public String desyncReason() {
        return desyncReason;
    }

    /**
     * Whether the proxy must send {@code Connection: close} to the backend and close the client
     * connection after the response: after an ambiguous request, neither side's idea of where
     * the next request starts can be trusted. The decoder reads nothing after such a request.
     */
    public boolean closeAfter() {
        return closeAfter;
    }
}
