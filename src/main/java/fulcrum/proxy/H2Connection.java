package fulcrum.proxy;

import fulcrum.config.H2Settings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.VoidChannelPromise;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;

/**
 * The HTTP/2 side of a client connection: Netty's connection handler (frames, HPACK, flow
 * control, stream states, the attack guards) with a frame listener that keeps one plain
 * {@link H2Stream} per stream. A stream costs no channel, pipeline or frame objects of its own:
 * its HEADERS and DATA go straight to its H2Stream, its response straight to the encoder.
 *
 * <p>Many streams' responses share a TLS record and a write, not one each: on epoll and NIO,
 * responses that complete outside a read of this connection (a target answered) are flushed once
 * per turn of the event loop; on io_uring, a flush waits while the previous one is being written.
 */
final class H2Connection extends Http2ConnectionHandler {
    private static final Logger log = LoggerFactory.getLogger(H2Connection.class);
    /** DATA up to this size is copied behind its frame header into one buffer. */
    private static final int SMALL_DATA = 1024;
    /** Room first taken for a response's HEADERS frame; a response's fields are ~5 bytes once HPACK's table holds them. */
    private static final int HEADERS_ESTIMATE = 256;
    private final FrontendHandler frontend;
    private final ListenerContext listener;
    private final Http2Connection.PropertyKey streamKey;
    private ChannelHandlerContext ctx;
    /**
     * For stream writes: a write that fails (its stream just closed) concerns that stream alone,
     * which Netty's encoder settles; it must not reach the connection's exception handling.
     */
    private ChannelPromise quiet;
    /** A response's HEADERS waiting for the DATA that follows them; see {@link #writeHeaders(Http2Stream, Http2Headers, boolean, int)}. */
    private ByteBuf heldHeaders;
    private Http2Stream heldFor;
    /** The encoder's HPACK encoder, its table shared with the frames the encoder writes; null if not reachable. */
    private Http2HeadersEncoder hpack;
    /** Reading the client: a flush waits for the read's end. */
    private boolean inRead;
    /**
     * io_uring: a flush waits while the bytes of the previous one are being written, and goes
     * when they are, so the responses that complete meanwhile share one TLS record (a client's
     * OpenSSL reads each record twice, header then body: one record per response cost h2load
     * 2.1 reads per request against HAProxy's 0.25). Elsewhere (epoll, NIO), where each flush is
     * a write syscall, flushes outside a read wait for the end of the loop's turn instead; on
     * io_uring that left Fulcrum idle 8 % of the time under h2load (docs/benchmarks.md, session 12).
     */
    private boolean holdWhileSending;
    /** The bytes of the last flush are being written; see {@link #holdWhileSending}. */
    private boolean sending;
    private final ChannelFutureListener sent = this::sent;
    /** A flush is asked for and not yet done. */
    private boolean flushWanted;
    private boolean flushScheduled;
    private final Runnable scheduledFlush = this::scheduledFlush;
    /** Streams that had frames in the current read, told when it ends. */
    private final ArrayList<H2Stream> readStreams = new ArrayList<>();
    /** Streams told they cannot take more response; see {@link #waitsForWindow}. */
    private final ArrayList<H2Stream> waiting = new ArrayList<>();

    /** The codec of a client connection, with the listener's limits and the attack guards. */
    static H2Connection forClients(H2Settings s, FrontendHandler frontend, ListenerContext listener) {
        return new Builder(s, frontend, listener).make();
    }

    private static final class Builder extends AbstractHttp2ConnectionHandlerBuilder<H2Connection, Builder> {
        private final FrontendHandler frontend;
        private final ListenerContext listener;

        Builder(H2Settings s, FrontendHandler frontend, ListenerContext listener) {
            this.frontend = frontend;
            this.listener = listener;
            Http2Settings initial = new Http2Settings()
                    .maxConcurrentStreams(s.maxConcurrentStreams())
                    .maxHeaderListSize(s.maxHeaderListSize())
                    .maxFrameSize(s.maxFrameSize())
                    .initialWindowSize(s.initialWindowSize());
            if (s.websocket()) {
                // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): a browser holding this connection opens wss:// on it.
                initial.connectProtocolEnabled(true);
            }
            DefaultHttp2Connection connection = new DefaultHttp2Connection(true);
            // The connection's window refills as frames arrive: only a stream's own window holds
            // back a body its target is slow to take, never the other streams.
            connection.local().flowController(new DefaultHttp2LocalFlowController(connection, 0.5f, true));
            // Response bytes shared evenly among the streams that have some: RFC 9113 deprecates
            // the priority tree Netty's default (weighted fair queueing) keeps up per stream.
            connection.remote().flowController(
                    new DefaultHttp2RemoteFlowController(connection, new UniformStreamByteDistributor(connection)));
            connection(connection);
            initialSettings(initial);
            validateHeaders(true);
            // Rapid reset (CVE-2023-44487): too many RST_STREAMs in a window get GOAWAY ENHANCE_YOUR_CALM.
            decoderEnforceMaxRstFramesPerWindow(s.maxResets(), (int) s.resetWindow().toSeconds());
            // SETTINGS and PING floods: acks a client does not read pile up to this, then the connection closes.
            encoderEnforceMaxQueuedControlFrames(s.maxQueuedControlFrames());
            decoderEnforceMaxSmallContinuationFrames(s.maxSmallContinuationFrames());
            // Open streams finish after a GOAWAY; the listener's shutdown grace bounds the wait.
            gracefulShutdownTimeoutMillis(-1);
        }

        H2Connection make() {
            return build();
        }

        @Override
        protected H2Connection build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
                                     Http2Settings initialSettings) {
            H2Connection h = new H2Connection(decoder, encoder, initialSettings, frontend, listener);
            frameListener(h.new Frames());
            return h;
        }
    }

    private H2Connection(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings initialSettings,
                         FrontendHandler frontend, ListenerContext listener) {
        super(decoder, encoder, initialSettings);
        this.frontend = frontend;
        this.listener = listener;
        Http2Connection c = connection();
        streamKey = c.newKey();
        c.addListener(new Http2ConnectionAdapter() {
            @Override
            public void onStreamClosed(Http2Stream stream) {
                H2Stream s = stream.removeProperty(streamKey);
                if (s != null) {
                    s.closed();
                }
            }
        });
        c.remote().flowController().listener(stream -> {
            H2Stream s = stream.getProperty(streamKey);
            if (s != null) {
                s.writabilityChanged();
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        this.quiet = new VoidChannelPromise(ctx.channel(), false);
        this.holdWhileSending = ctx.channel() instanceof IoUringSocketChannel;
        // Netty's frame writer configures headers through its HPACK encoder, which is its own configuration.
        this.hpack = encoder().configuration().headersConfiguration() instanceof Http2HeadersEncoder e ? e : null;
        super.handlerAdded(ctx);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
        ByteBuf h = takeHeldHeaders();
        if (h != null) {
            h.release();
        }
        super.handlerRemoved0(ctx);
    }

    /** The stream's handler, created with its first HEADERS. */
    private final class Frames extends Http2FrameAdapter {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                                  boolean endOfStream) {
            Http2Stream stream = connection().stream(streamId);
            if (stream == null) {
                return;
            }
            H2Stream s = stream.getProperty(streamKey);
            if (s == null) {
                s = new H2Stream(H2Connection.this, stream, frontend, listener);
                stream.setProperty(streamKey, s);
                frontend.streamOpened(s);
            }
            wasRead(s);
            try {
                s.headersRead(headers, endOfStream);
            } catch (RuntimeException e) {
                streamFailed(stream, e);
            }
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency,
                                  short weight, boolean exclusive, int padding, boolean endOfStream) {
            onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            Http2Stream stream = connection().stream(streamId);
            H2Stream s = stream == null ? null : stream.getProperty(streamKey);
            if (s == null) {
                return data.readableBytes() + padding;
            }
            wasRead(s);
            try {
                // What the stream holds for its target is given back to the window as the target takes it.
                return s.dataRead(data, endOfStream) + padding;
            } catch (RuntimeException e) {
                streamFailed(stream, e);
                return data.readableBytes() + padding;
            }
        }
    }

    // ---- reading ----

    /** A stream's handling failed: that stream is reset, the connection and its other streams go on. */
    private void streamFailed(Http2Stream stream, RuntimeException e) {
        log.warn("[{}] stream failed: {}", id(stream), e.toString(), e);
        reset(stream, Http2Error.INTERNAL_ERROR);
        flush();
    }

    private void wasRead(H2Stream s) {
        if (s.markRead()) {
            readStreams.add(s);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        inRead = true;
        LoopClock clock = frontend.pool().clock();
        boolean froze = clock.freeze();
        try {
            super.channelRead(ctx, msg);
        } finally {
            inRead = false;
            if (froze) {
                clock.thaw();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        LoopClock clock = frontend.pool().clock();
        boolean froze = clock.freeze();
        try {
            readComplete(ctx);
        } finally {
            if (froze) {
                clock.thaw();
            }
        }
    }

    private void readComplete(ChannelHandlerContext ctx) throws Exception {
        // By index: a stream's read end may start another stream's exchange, never add to the list.
        for (int i = 0; i < readStreams.size(); i++) {
            H2Stream s = readStreams.get(i);
            try {
                s.readComplete();
            } catch (RuntimeException e) {
                streamFailed(s.stream(), e);
            }
        }
        readStreams.clear();
        flushWanted = false;
        super.channelReadComplete(ctx); // flushes
        recheckWaiting();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        super.channelWritabilityChanged(ctx);
        recheckWaiting();
    }

    // ---- what streams ask of the connection ----

    ChannelHandlerContext context() {
        return ctx;
    }

    void writeHeaders(Http2Stream stream, Http2Headers headers, boolean endStream) {
        writeHeaders(stream, headers, endStream, -1);
    }

    /**
     * Writes a response's HEADERS. A final response's head ({@code dataFollows} >= 0: the DATA
     * expected, 0 if not known) may wait for the stream's first DATA to share its buffer (see
     * {@link #sendNow}) when that is small; it waits at most until the next write or flush of this
     * connection (the target's read that brought the head ends with a flush). Informational heads
     * and trailers ({@code dataFollows} -1) go through Netty's encoder, which checks them against
     * what the stream sent.
     */
    void writeHeaders(Http2Stream stream, Http2Headers headers, boolean endStream, int dataFollows) {
        writeHeldHeaders();
        if (!sendHeadersNow(stream, headers, endStream, dataFollows)) {
            encoder().writeHeaders(ctx, stream.id(), headers, 0, endStream, quiet);
        }
    }

    /** Writes HEADERS held for the DATA that was to follow them, if that DATA did not take them. */
    private void writeHeldHeaders() {
        ByteBuf h = takeHeldHeaders();
        if (h != null) {
            ctx.write(h, quiet);
        }
    }

    /** The HEADERS held for a stream's first DATA, now the caller's; null if none. */
    private ByteBuf takeHeldHeaders() {
        ByteBuf h = heldHeaders;
        heldHeaders = null;
        heldFor = null;
        return h;
    }

    /**
     * Writes a response's HEADERS as Netty's encoder would, with the encoder's own HPACK state, as
     * one buffer written as {@link #writeFrame} writes it. The encoder makes a real promise of the
     * caller's, a header-block buffer, a slice of it and a frame-header buffer, each written with a
     * promise aggregated into that one: 12 % of the Java time of a small response
     * (docs/benchmarks.md).
     *
     * @return whether the HEADERS were handled; if not, nothing was done.
     */
    private boolean sendHeadersNow(Http2Stream stream, Http2Headers headers, boolean endStream, int dataFollows) {
        Http2Stream.State state = stream.state();
        if (dataFollows < 0 || hpack == null || stream.isHeadersSent()
            || (state != Http2Stream.State.OPEN && state != Http2Stream.State.HALF_CLOSED_REMOTE)) {
            return false;
        }
        boolean hold = !endStream && dataFollows <= SMALL_DATA;
        ByteBuf frame = ctx.alloc().ioBuffer(
                HEADERS_ESTIMATE + (hold ? Http2CodecUtil.FRAME_HEADER_LENGTH + dataFollows : 0));
        frame.writerIndex(Http2CodecUtil.FRAME_HEADER_LENGTH);
        try {
            hpack.encodeHeaders(stream.id(), headers, frame);
        } catch (Http2Exception e) {
            // Handled as the encoder handles it: a block that failed half-way leaves the client's
            // table in doubt, which Netty's HPACK encoder reports as a connection error.
            frame.release();
            onError(ctx, true, e);
            return true;
        } catch (Throwable t) {
            frame.release();
            throw t;
        }
        frame = H2Frames.headersFrames(ctx.alloc(), frame, encoder().configuration().frameSizePolicy().maxFrameSize(),
                                       endStream, stream.id());
        stream.headersSent(false);
        if (hold) {
            heldHeaders = frame;
            heldFor = stream;
            return true;
        }
        writeFrame(stream, frame, endStream);
        return true;
    }

    ChannelFuture writeData(Http2Stream stream, ByteBuf data, boolean endStream) {
        writeHeldHeaders();
        return encoder().writeData(ctx, stream.id(), data, 0, endStream, ctx.newPromise());
    }

    void writeDataVoid(Http2Stream stream, ByteBuf data, boolean endStream) {
        if (!sendNow(stream, data, endStream)) {
            writeHeldHeaders();
            encoder().writeData(ctx, stream.id(), data, 0, endStream, quiet);
        }
    }

    /**
     * Writes DATA that the flow controller would send at once anyway: one frame's worth, within
     * the stream's and the connection's windows, with nothing of the stream queued before it.
     * Netty's encoder queues every DATA frame in its flow controller and writes it at the next
     * flush with a promise per frame piece (the frame's header and payload each, aggregated, then
     * each re-aggregated by the TLS handler): ~6 % of a small response's CPU (docs/benchmarks.md).
     * Here the windows are spent as the flow controller spends them, and the frame goes out as
     * {@link #writeFrame} writes it.
     *
     * @return whether the frame was written; if not, nothing was done.
     */
    private boolean sendNow(Http2Stream stream, ByteBuf data, boolean endStream) {
        Http2Stream.State state = stream.state();
        if (state != Http2Stream.State.OPEN && state != Http2Stream.State.HALF_CLOSED_REMOTE) {
            return false; // the encoder fails it
        }
        int n = data.readableBytes();
        if (n > encoder().configuration().frameSizePolicy().maxFrameSize() || !goesOutNow(stream, n)) {
            return false;
        }
        // One buffer for header and payload when small, behind the stream's HEADERS when they wait
        // for it: the TLS handler would copy them together anyway.
        boolean small = n <= SMALL_DATA;
        ByteBuf frame = null;
        if (small && heldFor == stream) {
            frame = takeHeldHeaders();
        } else {
            writeHeldHeaders();
        }
        try {
            if (frame == null) {
                frame = ctx.alloc().ioBuffer(Http2CodecUtil.FRAME_HEADER_LENGTH + (small ? n : 0));
            }
        } catch (Throwable t) {
            data.release();
            throw t;
        }
        Http2RemoteFlowController flow = connection().remote().flowController();
        try {
            flow.incrementWindowSize(stream, -n);
            flow.incrementWindowSize(connection().connectionStream(), -n);
        } catch (Http2Exception e) {
            frame.release();
            data.release();
            throw new IllegalStateException("spending " + n + " bytes of window", e); // only adding can overflow
        }
        H2Frames.writeDataHeader(frame, n, endStream, stream.id());
        if (small) {
            frame.writeBytes(data);
            data.release();
        } else {
            ctx.write(frame, quiet);
            frame = data;
        }
        writeFrame(stream, frame, endStream);
        return true;
    }

    /**
     * Writes a frame of the stream with no promise but on the frame that ends the stream, whose
     * completion closes it as the encoder does (so the stream, and a graceful shutdown waiting on
     * it, end only once the frame has been written).
     */
    private void writeFrame(Http2Stream stream, ByteBuf frame, boolean endStream) {
        if (!endStream) {
            ctx.write(frame, quiet);
            return;
        }
        ChannelPromise written = ctx.newPromise();
        ctx.write(frame, written);
        closeStreamLocal(stream, written);
    }

    void reset(Http2Stream stream, Http2Error error) {
        writeHeldHeaders();
        resetStream(ctx, stream.id(), error.code(), quiet);
    }

    /** Gives {@code bytes} of the stream's DATA back to its window (the target took them). */
    void consumed(Http2Stream stream, int bytes) {
        if (bytes <= 0 || stream.state() == Http2Stream.State.CLOSED) {
            return;
        }
        Http2LocalFlowController flow = connection().local().flowController();
        try {
            if (flow.consumeBytes(stream, bytes)) {
                flush(); // a WINDOW_UPDATE was written
            }
        } catch (Http2Exception e) {
            onError(ctx, false, e);
        }
    }

    /**
     * Sends what streams wrote: at the end of the current read if one is under way, else (with
     * other streams' writes) once the write in flight is done on io_uring, or once this turn of
     * the event loop is done with its I/O elsewhere.
     */
    void flush() {
        writeHeldHeaders(); // now, not at the flush: nothing of Netty's may get ahead of them
        if (inRead) {
            flushWanted = true;
            return;
        }
        if (holdWhileSending) {
            flush(ctx);
            recheckWaiting();
            return;
        }
        flushWanted = true;
        if (!flushScheduled) {
            flushScheduled = true;
            ctx.executor().execute(scheduledFlush);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writeHeldHeaders();
        if (!holdWhileSending) {
            super.flush(ctx);
            return;
        }
        if (sending) {
            flushWanted = true;
            return;
        }
        ChannelOutboundBuffer out = ctx.channel().unsafe().outboundBuffer();
        if (out != null && out.totalPendingWriteBytes() > 0) {
            // An empty write at the end of what is pending: its promise says when the socket took it.
            sending = true;
            ctx.write(Unpooled.EMPTY_BUFFER, ctx.newPromise().addListener(sent));
        }
        super.flush(ctx);
    }

    private void sent(ChannelFuture f) {
        sending = false;
        // A failed write means the connection is going: no flush after it, which could fail at once
        // again. In a read, the read's end flushes.
        if (f.isSuccess() && !inRead) {
            flushIfWanted();
        }
    }

    private void scheduledFlush() {
        flushScheduled = false;
        flushIfWanted();
    }

    private void flushIfWanted() {
        if (flushWanted) {
            flushWanted = false;
            flush(ctx); // the flow controller's pending DATA, then the socket
            recheckWaiting();
        }
    }

    /**
     * Whether the stream takes more response now: its window (and the connection's) has room, or
     * nothing of it waits on the window yet and the socket takes more.
     */
    boolean isWritable(Http2Stream stream) {
        Http2RemoteFlowController flow = connection().remote().flowController();
        return flow.isWritable(stream) || (!flow.hasFlowControlled(stream) && ctx.channel().isWritable());
    }

    /**
     * A stream was told it cannot take more. Netty's flow controller tells only of changes in its
     * own writability, not when a stream's queue empties: after each flush and read the waiting
     * streams are looked at again.
     */
    void waitsForWindow(H2Stream s) {
        waiting.add(s);
    }

    private void recheckWaiting() {
        if (waiting.isEmpty()) {
            return;
        }
        H2Stream[] now = waiting.toArray(new H2Stream[0]);
        waiting.clear();
        for (H2Stream s : now) {
            s.lookAgain();
        }
    }

    /**
     * Whether DATA on {@code stream} would wait rather than go out now: frames are already held
     * for it, or its window or the connection's is spent.
     */
    boolean dataWaits(Http2Stream stream) {
        return !goesOutNow(stream, 1);
    }

    /** Whether {@code bytes} of DATA on {@code stream} go out now: nothing of it queued, both windows hold them. */
    private boolean goesOutNow(Http2Stream stream, int bytes) {
        Http2RemoteFlowController flow = connection().remote().flowController();
        return !flow.hasFlowControlled(stream) && bytes <= flow.windowSize(stream)
               && bytes <= flow.windowSize(connection().connectionStream());
    }

    /** GOAWAY (NO_ERROR, the last stream taken) now, whatever the open streams do. */
    void goAwayNow() {
        writeHeldHeaders();
        goAway(ctx, connection().remote().lastStreamCreated(), Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
               ctx.newPromise());
        super.flush(ctx); // not held behind a write in flight: the connection closes next
    }

    String id(Http2Stream stream) {
        return ctx.channel().id().asShortText() + "/" + stream.id();
    }
}
