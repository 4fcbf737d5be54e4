package fulcrum.proxy;

import fulcrum.http.FlatHeaders;
import fulcrum.http.ResponseDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;

/**
 * A backend connection's HTTP codec: requests encoded by Netty's encoder (or as one write by
 * {@link HeldHead}), responses read by
 * {@link ResponseDecoder}, which learns from each request head whether its answer can have a body.
 */
final class BackendCodec extends CombinedChannelDuplexHandler<ResponseDecoder, HttpRequestEncoder> {
    BackendCodec(int maxResponseHeadSize) {
        ResponseDecoder decoder = new ResponseDecoder(maxResponseHeadSize);
        init(decoder, new RequestEncoder(decoder));
    }

    /** Whether response bytes no request asked for are buffered (see {@link ResponseDecoder#holdsBytes()}). */
    boolean holdsBytes() {
        return inboundHandler().holdsBytes();
    }

    /**
     * Netty's request encoder, except that a request framed by its length (or bodiless) goes out
     * as one write with its body ({@link HeldHead}).
     */
    private static final class RequestEncoder extends HttpRequestEncoder implements HeldHead.Head<HttpRequest> {
        private final ResponseDecoder decoder;
        private final HeldHead held = new HeldHead();

        RequestEncoder(ResponseDecoder decoder) {
            this.decoder = decoder;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (held.write(ctx, msg, promise)
                || msg instanceof HttpRequest r && held.start(ctx, r, promise, this)) {
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
        public void firstLine(ByteBuf buf, HttpRequest request) throws Exception {
            encodeInitialLine(buf, request);
        }

        @Override
        public void fields(HttpHeaders headers, ByteBuf buf) {
            encodeHeaders(headers, buf);
        }

        @Override
        protected void encodeInitialLine(ByteBuf buf, HttpRequest request) throws Exception {
            decoder.expectHead(request.method() == HttpMethod.HEAD);
            super.encodeInitialLine(buf, request);
        }

        @Override
        protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
            if (headers instanceof FlatHeaders f) {
                f.encode(buf); // no entry object per field
            } else {
                super.encodeHeaders(headers, buf);
            }
        }
    }
}
