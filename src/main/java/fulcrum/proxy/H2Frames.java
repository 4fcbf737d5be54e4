package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;

import java.util.function.BiConsumer;

/** HTTP/1.1 body pieces as HTTP/2 frames: a response to a client's stream, a request to a target's. */
final class H2Frames {
    private H2Frames() {
    }

    /**
     * Writes the header of a DATA frame of {@code length} bytes, without padding (RFC 9113 4.1;
     * Netty's {@code Http2CodecUtil.writeFrameHeader} would take a flags object per frame).
     */
    static void writeDataHeader(ByteBuf out, int length, boolean endStream, int streamId) {
        out.writeMedium(length);
        out.writeByte(Http2FrameTypes.DATA);
        out.writeByte(endStream ? Http2Flags.END_STREAM : 0);
        out.writeInt(streamId);
    }

    /** Where a stream's DATA and trailing HEADERS go. */
    interface Sink {
        void data(ByteBuf content, boolean endStream);

        void trailers(Http2Headers trailers);
    }

    /**
     * Writes {@code c}'s bytes as DATA; its last piece ends the stream, with its trailers as a
     * closing HEADERS frame when it has any (turned into HTTP/2 fields by {@code fields}). Takes
     * ownership of {@code c}.
     */
    static void writeBody(Sink out, HttpContent c, BiConsumer<HttpHeaders, Http2Headers> fields) {
        HttpHeaders trailers = c instanceof LastHttpContent l ? l.trailingHeaders() : null;
        boolean last = trailers != null;
        boolean withTrailers = last && !trailers.isEmpty();
        if (c.content().isReadable() || (last && !withTrailers)) {
            out.data(c.content(), last && !withTrailers);
        } else {
            c.release();
        }
        if (withTrailers) {
            Http2Headers t = new DefaultHttp2Headers(false);
            fields.accept(trailers, t);
            out.trailers(t);
        }
    }
}
