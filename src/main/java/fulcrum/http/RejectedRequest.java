package fulcrum.http;

import static java.util.Objects.requireNonNull;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Emitted by {@link RequestDecoder} instead of a request it refuses to forward. The frontend
 * answers with {@link #status()} and closes the connection: the decoder has already stopped
 * reading, so nothing that followed on the connection is ever taken for a request.
 *
 * <p>It can arrive after a request's head and some of its body (a bad chunk size is only seen
 * mid-body); the proxy then abandons that request's backend exchange as well.
 */
public record RejectedRequest(HttpResponseStatus status, String reason, DesyncClass desyncClass) {
    public RejectedRequest {
        requireNonNull(status, "status");
        requireNonNull(reason, "reason");
        requireNonNull(desyncClass, "desyncClass");
    }
}
