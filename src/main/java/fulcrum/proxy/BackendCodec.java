package fulcrum.proxy;

import fulcrum.http.FlatHeaders;
import fulcrum.http.ResponseDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;

/**
 * A backend connection's HTTP codec: requests encoded by Netty, responses read by
 * {@link ResponseDecoder}, which learns from each request head whether its answer can have a body.
 */
final class BackendCodec extends CombinedChannelDuplexHandler<ResponseDecoder, HttpRequestEncoder> {
    BackendCodec(int maxResponseHeadSize) {
        ResponseDecoder decoder = new ResponseDecoder(maxResponseHeadSize);
        init(decoder, new HttpRequestEncoder() {
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
        });
    }

    /** Whether response bytes no request asked for are buffered (see {@link ResponseDecoder#holdsBytes()}). */
    boolean holdsBytes() {
        return inboundHandler().holdsBytes();
    }
}
