package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2CodecUtil;
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
        writeFrameHeader(out, length, Http2FrameTypes.DATA, endStream ? Http2Flags.END_STREAM : 0, streamId);
    }

    private static void writeFrameHeader(ByteBuf out, int length, byte type, int flags, int streamId) {
        out.writeMedium(length);
        out.writeByte(type);
        out.writeByte(flags);
        out.writeInt(streamId);
    }

    /**
     * Makes a HEADERS frame of the HPACK block that {@code frame} holds after room for a frame
     * header: the header is set in that room. A block over {@code maxFrameSize} is cut into HEADERS
     * and CONTINUATION frames in a new buffer, and {@code frame} released (RFC 9113 6.10).
     */
    static ByteBuf headersFrames(ByteBufAllocator alloc, ByteBuf frame, int maxFrameSize, boolean endStream,
                                 int streamId) {
        int end = frame.writerIndex();
        int block = end - Http2CodecUtil.FRAME_HEADER_LENGTH;
        int flags = endStream ? Http2Flags.END_STREAM : 0;
        if (block <= maxFrameSize) {
            frame.writerIndex(0);
            writeFrameHeader(frame, block, Http2FrameTypes.HEADERS, flags | Http2Flags.END_HEADERS, streamId);
            frame.writerIndex(end);
            return frame;
        }
        int frames = (block + maxFrameSize - 1) / maxFrameSize;
        ByteBuf out = null;
        try {
            out = alloc.ioBuffer(block + frames * Http2CodecUtil.FRAME_HEADER_LENGTH);
            byte type = Http2FrameTypes.HEADERS;
            for (int at = Http2CodecUtil.FRAME_HEADER_LENGTH; at < end; ) {
                int n = Math.min(maxFrameSize, end - at);
                writeFrameHeader(out, n, type, flags | (at + n == end ? Http2Flags.END_HEADERS : 0), streamId);
                out.writeBytes(frame, at, n);
                at += n;
                type = Http2FrameTypes.CONTINUATION;
                flags = 0; // END_STREAM belongs to the HEADERS frame
            }
        } catch (Throwable t) {
            if (out != null) {
                out.release();
            }
            throw t;
        } finally {
            frame.release();
        }
        return out;
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
