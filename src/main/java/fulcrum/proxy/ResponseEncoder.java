package fulcrum.proxy;

import fulcrum.http.BackendResponse;
import fulcrum.http.FlatHeaders;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;

/**
 * The frontend's response encoder. A backend's response keeps the fields it was not asked to
 * change as the backend's bytes ({@link BackendResponse}); they are copied out with the status
 * line, and only the parsed fields are encoded.
 *
 * <p>It is told when the response answers a HEAD request, whose body is always empty whatever its
 * framing headers say (HttpServerCodec does this by queueing request methods; the proxy handles
 * one exchange at a time and simply says so).
 */
final class ResponseEncoder extends HttpResponseEncoder {
    private boolean headRequest;

    void headRequest(boolean head) {
        this.headRequest = head;
    }

    @Override
    protected void encodeInitialLine(ByteBuf buf, HttpResponse response) throws Exception {
        if (response instanceof BackendResponse r) {
            r.writeHead(buf);
        } else {
            super.encodeInitialLine(buf, response);
        }
    }

    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
        if (headers instanceof FlatHeaders f) {
            f.encode(buf); // no entry object per field
        } else {
            super.encodeHeaders(headers, buf);
        }
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse msg) {
        return headRequest || super.isContentAlwaysEmpty(msg);
    }
}
