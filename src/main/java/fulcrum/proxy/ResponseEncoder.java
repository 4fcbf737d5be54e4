package fulcrum.proxy;

import fulcrum.http.BackendResponse;
import fulcrum.http.FlatHeaders;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
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
final class ResponseEncoder extends HttpResponseEncoder implements HeldHead.Head<HttpResponse> {
    private final HeldHead held = new HeldHead();
    private boolean headRequest;

    void headRequest(boolean head) {
        this.headRequest = head;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (held.write(ctx, msg, promise)) {
            return;
        }
        // A target's response framed by its length goes out as one write with its body; the rest
        // (1xx, statuses and HEAD answers without a body, chunked, Fulcrum's own) as Netty encodes them.
        if (msg instanceof BackendResponse r && r.status().code() >= 200 && !isContentAlwaysEmpty(r)
            && held.start(ctx, r, promise, this)) {
            return;
        }
        held.passed(msg);
        super.write(ctx, msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        held.writeHeld(ctx);
        ctx.flush();
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        held.writeHeld(ctx);
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        held.discard();
        super.handlerRemoved(ctx);
    }

    @Override
    public void firstLine(ByteBuf buf, HttpResponse response) throws Exception {
        encodeInitialLine(buf, response);
    }

    @Override
    public void fields(HttpHeaders headers, ByteBuf buf) {
        encodeHeaders(headers, buf);
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
