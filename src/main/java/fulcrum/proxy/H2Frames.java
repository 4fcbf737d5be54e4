package fulcrum.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;

import java.util.function.BiConsumer;

/** HTTP/1.1 body pieces as HTTP/2 frames: a response to a client's stream, a request to a target's. */
final class H2Frames {
    private H2Frames() {
    }

    /**
     * Writes {@code c}'s bytes as DATA; its last piece ends the stream, with its trailers as a
     * closing HEADERS frame when it has any (turned into HTTP/2 fields by {@code fields}). Takes
     * ownership of {@code c}.
     */
    static void writeBody(ChannelHandlerContext ctx, HttpContent c, BiConsumer<HttpHeaders, Http2Headers> fields) {
        HttpHeaders trailers = c instanceof LastHttpContent l ? l.trailingHeaders() : null;
        boolean last = trailers != null;
        boolean withTrailers = last && !trailers.isEmpty();
        if (c.content().isReadable() || (last && !withTrailers)) {
            ctx.write(new DefaultHttp2DataFrame(c.content(), last && !withTrailers), ctx.voidPromise());
        } else {
            c.release();
        }
        if (withTrailers) {
            Http2Headers t = new DefaultHttp2Headers(false);
            fields.accept(trailers, t);
            ctx.write(new DefaultHttp2HeadersFrame(t, true), ctx.voidPromise());
        }
    }
}
