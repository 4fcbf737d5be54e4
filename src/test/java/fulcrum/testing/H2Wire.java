package fulcrum.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A raw HTTP/2 client for tests: frames are written with Netty's own frame writer (any frame,
 * in any order, as an attacker would send them) on a plain socket, and what comes back is read
 * frame by frame with Netty's frame reader. Not thread-safe; one test thread drives it.
 */
public final class H2Wire implements AutoCloseable {
    /**
     * One frame received; {@code status} for response HEADERS, {@code bytes} for DATA and
     * WINDOW_UPDATE (its increment), {@code code} for RST_STREAM and GOAWAY; {@code headers} of
     * HEADERS and the SETTINGS' values (as names), {@code data} of DATA; null for other frames.
     */
    public record Frame(String type, int stream, int status, int bytes, boolean endStream, long code,
                        Http2Headers headers, byte[] data) {
        Frame(String type, int stream, int status, int bytes, boolean endStream, long code) {
            this(type, stream, status, bytes, endStream, code, null, null);
        }

        @Override
        public String toString() {
            return type + "(" + stream + (status != 0 ? " :status " + status : "") + (bytes != 0 ? " " + bytes + "B" : "")
                   + (endStream && !type.equals("RST_STREAM") ? " END_STREAM" : "")
                   + (type.equals("RST_STREAM") || type.equals("GOAWAY") ? " code " + code : "") + ")";
        }
    }

    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final EmbeddedChannel ch = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
    private final ChannelHandlerContext ctx = ch.pipeline().firstContext();
    private final DefaultHttp2FrameWriter writer = new DefaultHttp2FrameWriter();
    private final DefaultHttp2FrameReader reader;
    private final ByteBuf received = Unpooled.buffer();
    private final byte[] buf = new byte[65536];
    private boolean closedByPeer;

    /** Connects and sends the preface and {@code settings}. */
    public H2Wire(int port, Http2Settings settings) throws IOException {
        // Decodes heads up to the limit the settings announce (Netty's default of 8 KiB without one).
        Long listSize = settings.maxHeaderListSize();
        reader = new DefaultHttp2FrameReader(listSize == null ? new DefaultHttp2HeadersDecoder(false)
                                                              : new DefaultHttp2HeadersDecoder(false, listSize));
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(200);
        out = socket.getOutputStream();
        in = socket.getInputStream();
        ByteBuf preface = Http2CodecUtil.connectionPrefaceBuf();
        out.write(io.netty.buffer.ByteBufUtil.getBytes(preface));
        preface.release();
        writer.writeSettings(ctx, settings, ch.newPromise());
        flush();
    }

    public static Http2Headers get(int port, String path) {
        return new DefaultHttp2Headers().method("GET").path(path).scheme("http").authority("127.0.0.1:" + port);
    }

    public H2Wire headers(int stream, Http2Headers h, boolean endStream) throws IOException {
        writer.writeHeaders(ctx, stream, h, 0, endStream, ch.newPromise());
        return this;
    }

    public H2Wire data(int stream, byte[] bytes, boolean endStream) throws IOException {
        writer.writeData(ctx, stream, Unpooled.wrappedBuffer(bytes), 0, endStream, ch.newPromise());
        return this;
    }

    public H2Wire rst(int stream, long code) {
        writer.writeRstStream(ctx, stream, code, ch.newPromise());
        return this;
    }

    public H2Wire ping(long payload) {
        writer.writePing(ctx, false, payload, ch.newPromise());
        return this;
    }

    public H2Wire settingsAck() {
        writer.writeSettingsAck(ctx, ch.newPromise());
        return this;
    }

    public H2Wire windowUpdate(int stream, int increment) {
        writer.writeWindowUpdate(ctx, stream, increment, ch.newPromise());
        return this;
    }

    /** Any frame, as it is: {@code type} 0x9 with a header block fragment is a CONTINUATION. */
    public H2Wire raw(byte type, int stream, short flags, byte[] payload) {
        writer.writeFrame(ctx, type, stream, new Http2Flags(flags), Unpooled.wrappedBuffer(payload), ch.newPromise());
        return this;
    }

    /** Sends {@code bytes} as they are, past the frame writer (floods); false when the peer closed the connection. */
    public boolean send(byte[] bytes) throws IOException {
        if (!flush()) {
            return false;
        }
        try {
            out.write(bytes);
            return true;
        } catch (IOException e) {
            closedByPeer = true;
            return false;
        }
    }

    /** {@code count} frames of {@code type} with {@code payload} on stream 0 or {@code stream}, as bytes. */
    public static byte[] frames(int count, byte type, int stream, byte[] payload) {
        byte[] one = new byte[9 + payload.length];
        one[0] = (byte) (payload.length >>> 16);
        one[1] = (byte) (payload.length >>> 8);
        one[2] = (byte) payload.length;
        one[3] = type;
        one[5] = (byte) (stream >>> 24);
        one[6] = (byte) (stream >>> 16);
        one[7] = (byte) (stream >>> 8);
        one[8] = (byte) stream;
        System.arraycopy(payload, 0, one, 9, payload.length);
        byte[] all = new byte[one.length * count];
        for (int i = 0; i < count; i++) {
            System.arraycopy(one, 0, all, i * one.length, one.length);
        }
        return all;
    }

    /** Sends what was written; false when the peer closed the connection. */
    public boolean flush() throws IOException {
        ch.flushOutbound();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            try {
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                out.write(bytes);
            } catch (IOException e) {
                closedByPeer = true;
                ch.releaseOutbound();
                return false;
            } finally {
                b.release();
            }
        }
        out.flush();
        return true;
    }

    /** Reads frames until one matches {@code until}, the peer closes, or {@code timeoutMillis} passes. */
    public List<Frame> read(Predicate<Frame> until, long timeoutMillis) throws IOException {
        List<Frame> frames = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMillis;
        socket.setSoTimeout((int) Math.max(1, Math.min(200, timeoutMillis)));
        while (System.currentTimeMillis() < deadline && !closedByPeer) {
            if (parse(frames, until)) {
                return frames;
            }
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                continue;
            } catch (IOException e) {
                closedByPeer = true; // reset
                break;
            }
            if (n < 0) {
                closedByPeer = true;
                break;
            }
            received.writeBytes(buf, 0, n);
        }
        parse(frames, until);
        return frames;
    }

    /** Whether the peer has closed the connection (seen by a read or a write). */
    public boolean closedByPeer() {
        return closedByPeer;
    }

    private boolean parse(List<Frame> frames, Predicate<Frame> until) throws IOException {
        int start = frames.size();
        try {
            reader.readFrame(ctx, received, new Listener(frames));
        } catch (Http2Exception e) {
            throw new IOException(e);
        }
        received.discardReadBytes();
        for (int i = start; i < frames.size(); i++) {
            if (until.test(frames.get(i))) {
                return true;
            }
        }
        return false;
    }

    private static final class Listener extends Http2FrameAdapter {
        private final List<Frame> frames;

        Listener(List<Frame> frames) {
            this.frames = frames;
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean end) {
            frames.add(new Frame("DATA", streamId, 0, data.readableBytes(), end, 0, null,
                                 io.netty.buffer.ByteBufUtil.getBytes(data)));
            return data.readableBytes() + padding;
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                  boolean end) {
            CharSequence s = headers.status();
            frames.add(new Frame("HEADERS", streamId, s == null ? 0 : Integer.parseInt(s.toString()), 0, end, 0,
                                 headers, null));
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int dependency,
                                  short weight, boolean exclusive, int padding, boolean end) {
            onHeadersRead(ctx, streamId, headers, padding, end);
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            frames.add(new Frame("RST_STREAM", streamId, 0, 0, true, errorCode));
        }

        @Override
        public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode, ByteBuf debugData) {
            frames.add(new Frame("GOAWAY", lastStreamId, 0, 0, false, errorCode));
        }

        @Override
        public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {
            Http2Headers values = new DefaultHttp2Headers(false);
            settings.forEach((id, v) -> values.add(Integer.toString(id), Long.toString(v)));
            frames.add(new Frame("SETTINGS", 0, 0, 0, false, 0, values, null));
        }

        @Override
        public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int windowSizeIncrement) {
            frames.add(new Frame("WINDOW_UPDATE", streamId, 0, windowSizeIncrement, false, 0));
        }

        @Override
        public void onPingAckRead(ChannelHandlerContext ctx, long data) {
            frames.add(new Frame("PING_ACK", 0, 0, 0, false, data));
        }
    }

    @Override
    public void close() throws IOException {
        ch.finishAndReleaseAll();
        received.release();
        writer.close();
        reader.close();
        socket.close();
    }
}
