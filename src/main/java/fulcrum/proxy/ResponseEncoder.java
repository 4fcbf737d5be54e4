package fulcrum.proxy;

import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;

/**
 * The frontend's response encoder. It is told when the response answers a HEAD request, whose
 * body is always empty whatever its framing headers say (HttpServerCodec does this by queueing
 * request methods; the proxy handles one exchange at a time and simply says so).
 */
final class ResponseEncoder extends HttpResponseEncoder {
    private boolean headRequest;

    void headRequest(boolean head) {
        this.headRequest = head;
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse msg) {
        return headRequest || super.isContentAlwaysEmpty(msg);
    }
}
