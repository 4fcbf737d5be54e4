package fulcrum.proxy;

import fulcrum.http.DesyncClass;
import fulcrum.http.ForwardingHeaders;
import fulcrum.http.RejectedRequest;
import fulcrum.http.RequestDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 client connection: its codec, the queue of what the client sent ahead of the
 * current exchange (pipelined requests, body bytes before a backend is connected), backpressure,
 * its timers (idle, request head, response) and shutdown. Each request becomes an
 * {@link Exchange}, one at a time, in order; the exchange does the proxying and tells the
 * connection when it is done. After a 101 the connection becomes a {@link Tunnel}; after the
 * HTTP/2 preface ({@link PrefaceDetector}) it hosts HTTP/2 streams, each an {@link H2Stream}.
 */
final class FrontendHandler extends ChannelInboundHandlerAdapter implements ClientStream, Tunnel.ClientEnd {
    private static final Logger log = LoggerFactory.getLogger(FrontendHandler.class);

    /** Messages held before reading from the client stops. */
    private static final int MAX_PENDING = 32;

    static final String TLS = "tls";
    static final String DECODER = "decoder";
    static final String ENCODER = "encoder";
    static final String HANDLER = "handler";
    static final String PREFACE = "preface";
    static final String H2_CODEC = "h2codec";

    private final ListenerContext listener;
    private final long idleTimeoutNanos;
    private final long headerTimeoutNanos;
    private ChannelHandlerContext ctx;
    private BackendPool pool;
    private RequestDecoder decoder;
    private ResponseEncoder encoder;
    /** When the first bytes of a request head that is still incomplete arrived; 0 when none. */
    private long headStarted;
    /** Created on first use: most connections never have a message waiting. */
    private ArrayDeque<Object> pending;
    /**
     * The exchange whose request is being read or answered: set from its head until both its end
     * and its request's end (a body still arriving after the response is read and dropped).
     */
    private Exchange ex;
    private Tunnel tunnel;
    /** Once the client sent the HTTP/2 preface: the connection's codec; its streams carry the exchanges. */
    private H2Connection h2;
    /** The open streams of an HTTP/2 connection. */
    private Set<H2Stream> streams;
    /** How many of them carry a WebSocket, which the idle sweep looks at one by one. */
    private int tunnelStreams;
    private String clientText;
    private String sniName;
    private ConnectionFacts facts;
    /** In channelRead: writes to the backend wait for channelReadComplete to be flushed. */
    private boolean inClientRead;
    private boolean closing;
    /** Traffic in either direction since the idle sweep last looked: a store, not a clock read. */
    private boolean active;
    /** When the idle sweep last saw traffic, or when the connection opened. */
    private long lastActivity;
    private IdleSweep idleSweep;
    /** Links of {@link IdleSweep}'s list of this loop's connections. */
    FrontendHandler idlePrev;
    FrontendHandler idleNext;
    /**
     * One response timer per connection, armed when an exchange starts waiting and none is
     * pending: back-to-back exchanges share it instead of scheduling and cancelling one each.
     * Null once the connection is a tunnel.
     */
    private ResponseTimer responseTimer;

    FrontendHandler(ListenerContext listener) {
        this.listener = listener;
        this.idleTimeoutNanos = listener.settings().idleTimeout().toNanos();
        this.headerTimeoutNanos = listener.settings().headerTimeout().toNanos();
    }

    // ---- connection lifecycle ----

    /**
     * The connection is counted from here to {@link #handlerRemoved}, which Netty calls once the
     * closed channel leaves its loop (no close listener per connection).
     */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        listener.connectionOpened();
        listener.observer().connectionOpened(listener.settings().name());
        this.ctx = ctx;
        this.pool = listener.pools().forLoop(ctx.channel().eventLoop());
        this.responseTimer = new ResponseTimer(ctx.executor(), pool.clock(), this::responseDeadline);
        this.encoder = (ResponseEncoder) ctx.pipeline().get(ENCODER);
        this.decoder = (RequestDecoder) ctx.pipeline().get(DECODER);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        listener.connectionClosed();
        listener.observer().connectionClosed(listener.settings().name());
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        lastActivity = System.nanoTime();
        idleSweep = listener.idleSweep(ctx.channel().eventLoop());
        idleSweep.add(this);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (idleSweep != null) {
            idleSweep.remove(this);
        }
        if (responseTimer != null) {
            responseTimer.cancel();
        }
        releasePending();
        if (tunnel != null) {
            tunnel.clientClosed();
        } else if (ex != null) {
            Exchange e = ex;
            ex = null;
            e.clientClosed();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] client connection error: {}", ctx.channel().id(), cause.toString());
        if (h2 != null && Http2CodecUtil.getEmbeddedHttp2Exception(cause) != null) {
            return; // the codec answers it: GOAWAY with the error's code (ENHANCE_YOUR_CALM for an abuser), then a close
        }
        ctx.close();
    }

    // ---- reading the client ----

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (h2 != null) {
            // H2Connection hands every frame to its streams and passes nothing on; control frames
            // (SETTINGS, PING) touch no stream, so a client that only pings meets the idle timeout.
            ReferenceCountUtil.release(msg);
            return;
        }
        touch();
        if (tunnel != null) {
            tunnel.fromClient(msg);
            return;
        }
        if (closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if ((pending != null && !pending.isEmpty()) || !canProcess(msg)) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(msg);
            updateClientReading();
            return;
        }
        // A rejection decoded from the same read as its head then closes the backend connection
        // before any of the request was flushed to it.
        inClientRead = true;
        boolean froze = pool.clock().freeze();
        try {
            process(msg);
        } finally {
            inClientRead = false;
            if (froze) {
                pool.clock().thaw();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (h2 != null) {
            return;
        }
        if (tunnel != null) {
            tunnel.clientReadComplete();
            return;
        }
        flushBackend();
        updateClientReading();
        if (ex == null && headStarted == 0 && !closing && decoder.midHead()) {
            headStarted = pool.clock().nanos();
            ctx.executor().schedule(this::checkHeader, headerTimeoutNanos, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Whether {@code msg} can be taken now. A request waits for the exchange before it to end; so
     * does a rejection that follows a complete request, which concerns the next request, not the
     * current one (it is answered after the current response, as HAProxy and nginx do).
     */
    private boolean canProcess(Object msg) {
        if (msg instanceof HttpContent) {
            return ex != null && ex.acceptsBody();
        }
        if (msg instanceof RejectedRequest) {
            return ex == null || !ex.requestComplete();
        }
        return ex == null;
    }

    private void process(Object msg) {
        if (msg instanceof HttpRequest req) {
            startExchange(req);
        } else if (msg instanceof HttpContent c) {
            Exchange e = ex;
            e.requestContent(c);
            if (e.phase() == Exchange.Phase.DONE && e.requestComplete()) {
                nextExchange(e);
            }
        } else if (msg instanceof RejectedRequest r) {
            rejected(r);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void drainPending() {
        Object msg;
        while (!closing && tunnel == null && pending != null && (msg = pending.peek()) != null && canProcess(msg)) {
            pending.poll();
            process(msg);
        }
        flushBackend();
        updateClientReading();
    }

    private void startExchange(HttpRequest req) {
        headStarted = 0;
        Exchange e = new Exchange(this, req);
        ex = e;
        encoder.headRequest(e.head);
        if (listener.stopping()) {
            e.closeClientAfter();
        }
        e.start();
    }

    /**
     * The decoder refused what the client sent and reads nothing more. Mid-body, the exchange it
     * belongs to is abandoned; otherwise it is answered and the connection closed.
     */
    private void rejected(RejectedRequest r) {
        log.debug("[{}] request rejected ({}): {}", ctx.channel().id(), r.desyncClass(), r.reason());
        listener.observer().rejected(listener.settings().name(), r.status().code(), r.desyncClass());
        if (ex != null) {
            Exchange e = ex;
            e.abort(r.status());
            if (!closing) {
                closing = true; // the response (if any was left to send) is out; nothing after is trusted
                ctx.flush();
                ctx.close();
            }
            return;
        }
        observeOwn(r.status().code(), r.desyncClass(), r.reason());
        closeWith(r.status());
    }

    /** A client that opened a request head must complete it in time (slowloris). */
    private void checkHeader() {
        if (headStarted == 0 || closing || ex != null || tunnel != null) {
            return;
        }
        long waited = System.nanoTime() - headStarted;
        if (waited < headerTimeoutNanos) {
            ctx.executor().schedule(this::checkHeader, headerTimeoutNanos - waited, TimeUnit.NANOSECONDS);
            return;
        }
        log.debug("[{}] request head incomplete after {} ms", ctx.channel().id(), waited / 1_000_000);
        listener.observer().rejected(listener.settings().name(), 408, null);
        observeOwn(408, null, "request head incomplete after " + waited / 1_000_000 + " ms");
        closeWith(HttpResponseStatus.REQUEST_TIMEOUT);
    }

    /** Answers {@code status} and closes: nothing after a bad request can be trusted to be framed right. */
    private void closeWith(HttpResponseStatus status) {
        closing = true;
        releasePending();
        encoder.headRequest(false);
        ctx.writeAndFlush(ErrorResponses.of(ctx.alloc(), status, true)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Records a request the connection answered itself before any exchange began (400s, 408, 431...). */
    private void observeOwn(int status, DesyncClass desyncClass, String reason) {
        ExchangeObserver o = listener.observer();
        if (o == ExchangeObserver.NONE) {
            return;
        }
        long now = System.nanoTime();
        long start = headStarted != 0 ? headStarted : now;
        o.exchangeEnded(new ExchangeObserver.ExchangeRecord(
                listener.settings().name(), remote(), null, null, "-", "-", "-", null, null,
                System.currentTimeMillis() - (now - start) / 1_000_000, start, 0, 0, now, status, -1, 0, 0, 0,
                desyncClass, o.recordsRequests() ? connection() : null, null, null, reason));
    }

    // ---- backpressure ----

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (tunnel != null) {
            tunnel.clientWritabilityChanged();
        } else if (ex != null) {
            ex.clientWritable(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void backendWritabilityChanged() {
        updateClientReading();
    }

    private void updateClientReading() {
        if (h2 != null) {
            return; // each stream's flow-control window holds its client back
        }
        boolean read = !closing && (pending == null || pending.size() < MAX_PENDING)
                       && (ex == null || ex.backendWritable());
        ctx.channel().config().setAutoRead(read);
    }

    private void flushBackend() {
        if (ex != null && !inClientRead) {
            ex.flushBackend();
        }
    }

    // ---- timers ----

    /** Marks traffic on the connection (either direction) for the idle timeout. */
    @Override
    public void touch() {
        active = true;
    }

    /** Closes the connection when it has been idle past the listener's idle timeout (called by {@link IdleSweep}). */
    void checkIdle(long now) {
        if (!ctx.channel().isActive()) {
            return;
        }
        checkStreamsIdle(now);
        if (active) {
            // Idle time counts from this tick: never early, at most a tick later than from the traffic itself.
            active = false;
            lastActivity = now;
            return;
        }
        long idle = now - lastActivity;
        // A request waiting for its response is the response timeout's to end.
        boolean waitingOnBackend = tunnel == null && (ex != null && ex.awaitingResponse() || streamAwaiting());
        if (idle < idleTimeoutNanos || waitingOnBackend) {
            return;
        }
        log.debug("[{}] idle for {} ms, closing", ctx.channel().id(), TimeUnit.NANOSECONDS.toMillis(idle));
        if (tunnel != null) {
            tunnel.closeBoth();
        } else if (h2 != null) {
            closeHttp2Now();
        } else {
            ctx.close();
        }
    }

    @Override
    public void requestSent(long responseTimeoutNanos) {
        responseTimer.arm(responseTimeoutNanos);
        drainPending();
    }

    /** A stream's request reached its target: the connection's response timer watches it. */
    void streamRequestSent(long responseTimeoutNanos) {
        responseTimer.arm(responseTimeoutNanos);
    }

    /**
     * The response timer's check: nanoseconds until the nearest response deadline of the
     * exchange (HTTP/1.1) or of the streams (HTTP/2), -1 when none waits. Passed deadlines end
     * their exchanges with 504.
     */
    private long responseDeadline(long now) {
        if (streams == null) {
            return closing || ex == null ? -1 : ex.checkResponseTimeout(now);
        }
        long next = -1;
        // A stream that times out closes, and leaves the set, while it is walked: a copy is walked.
        for (H2Stream s : streams.toArray(new H2Stream[0])) {
            long left = s.checkResponseTimeout(now);
            if (left > 0 && (next < 0 || left < next)) {
                next = left;
            }
        }
        return next;
    }

    // ---- what exchanges ask of their client ----

    @Override
    public ListenerContext listener() {
        return listener;
    }

    @Override
    public BackendPool pool() {
        return pool;
    }

    @Override
    public InetSocketAddress remote() {
        return (InetSocketAddress) ctx.channel().remoteAddress();
    }

    /** Made once per connection, at the first record after the TLS handshake. */
    @Override
    public ConnectionFacts connection() {
        if (facts == null) {
            facts = ConnectionFacts.of(ctx.channel(), sniName);
        }
        return facts;
    }

    /** The SNI name an HTTPS client sent, for its connection's facts. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SniCompletionEvent sni && sni.isSuccess()) {
            sniName = sni.hostname();
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** The client's address as forwarding headers write it, made once per connection. */
    @Override
    public String clientText() {
        if (clientText == null) {
            clientText = ForwardingHeaders.clientText(remote());
        }
        return clientText;
    }

    Channel channel() {
        return ctx.channel();
    }

    @Override
    public ByteBufAllocator alloc() {
        return ctx.alloc();
    }

    @Override
    public void write(Object msg) {
        ctx.write(QueuedPieces.compact(ctx.channel(), msg), ctx.voidPromise());
    }

    @Override
    public void flush() {
        ctx.flush();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    /** Makes the response's framing one an HTTP/1.x client can read, and decides whether to close after it. */
    @Override
    public boolean frameResponse(Exchange e, HttpResponse res) {
        int code = res.status().code();
        boolean bodyless = e.head || code == 204 || code == 304;
        boolean chunked = HttpUtil.isTransferEncodingChunked(res);
        boolean close = !e.clientKeepAlive || e.closeClient() || listener.stopping();
        if (!bodyless && !chunked && !res.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // Delimited by the backend closing: re-framed as chunked, or closed after for HTTP/1.0.
            if (e.client10) {
                close = true;
            } else {
                HttpUtil.setTransferEncodingChunked(res, true);
            }
        } else if (chunked && e.client10) {
            res.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            close = true;
        }
        res.setProtocolVersion(HttpVersion.HTTP_1_1);
        if (close) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (e.client10) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        return close;
    }

    /**
     * The exchange ended. The connection closes when the exchange says so; otherwise the next
     * request is taken once this one's body has been read to its end.
     */
    @Override
    public void exchangeDone(Exchange e) {
        if (e != ex || closing) {
            return;
        }
        if (e.closeClient() || listener.stopping()) {
            closeAfterFlush();
            return;
        }
        if (e.requestComplete()) {
            nextExchange(e);
            return;
        }
        // The response went out before the request's end: the rest of the body is read and dropped.
        ctx.flush();
        drainPending();
    }

    private void nextExchange(Exchange done) {
        ex = null;
        if (listener.stopping()) {
            closeAfterFlush();
            return;
        }
        ctx.flush();
        if (done.upgradeHeader) {
            // The decoder paused after a request asking to switch protocols; it was not switched.
            decoder.upgradeDeclined();
        }
        drainPending();
    }

    private void closeAfterFlush() {
        closing = true;
        ex = null;
        releasePending();
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    // ---- shutdown ----

    /**
     * Shutdown has begun: an idle connection closes now, a busy one after its exchange. An HTTP/2
     * connection is sent GOAWAY and closes once its open streams have ended.
     */
    void shutdown() {
        if (closing || tunnel != null) {
            return;
        }
        if (h2 != null) {
            closing = true;
            ctx.close(); // through the codec: GOAWAY with the last stream taken, then a close when none is left
            return;
        }
        if (ex == null) {
            closeAfterFlush();
        } else {
            ex.closeClientAfter();
        }
    }

    /** The shutdown grace is over. */
    void forceClose() {
        if (h2 != null) {
            for (H2Stream s : streams.toArray(new H2Stream[0])) {
                s.goingAway();
            }
            closeHttp2Now();
            return;
        }
        if (tunnel != null) {
            tunnel.goingAway();
        } else {
            ctx.close();
        }
    }

    // ---- HTTP/2 ----

    /**
     * The client sent the HTTP/2 preface: the HTTP/1.1 codecs make way for the HTTP/2 codec and
     * the stream multiplexer, which gives each stream a child channel on this loop with an
     * {@link H2Stream} as the client end of its exchange.
     */
    void startHttp2() {
        ChannelPipeline p = ctx.pipeline();
        p.remove(ENCODER);
        p.remove(DECODER);
        encoder = null;
        decoder = null;
        streams = new HashSet<>();
        h2 = H2Connection.forClients(listener.settings().http2(), this, listener);
        p.addBefore(HANDLER, H2_CODEC, h2);
    }

    /**
     * Ends an HTTP/2 connection whatever its streams are doing (idle timeout, the end of the
     * shutdown grace): GOAWAY if the socket takes it now, then a close past the codec, which
     * would otherwise wait for the open streams.
     */
    private void closeHttp2Now() {
        closing = true;
        h2.goAwayNow();
        ctx.pipeline().firstContext().close();
    }

    void streamOpened(H2Stream s) {
        streams.add(s);
    }

    void streamClosed(H2Stream s) {
        streams.remove(s);
    }

    /** A stream of this connection became a WebSocket tunnel ({@code +1}) or one ended ({@code -1}). */
    void tunnelStreams(int change) {
        tunnelStreams += change;
    }

    /** A WebSocket stream of a busy HTTP/2 connection still meets the idle timeout on its own. */
    private void checkStreamsIdle(long now) {
        if (tunnelStreams == 0) {
            return;
        }
        for (H2Stream s : streams.toArray(new H2Stream[0])) {
            s.checkIdle(now, idleTimeoutNanos);
        }
    }

    private boolean streamAwaiting() {
        if (streams == null) {
            return false;
        }
        for (H2Stream s : streams) {
            if (s.awaitingResponse()) {
                return true;
            }
        }
        return false;
    }

    // ---- WebSocket ----

    @Override
    public void startTunnel(Exchange e, BackendHandler b) {
        ex = null;
        releasePending();
        pending = null;
        responseTimer.cancel(); // a tunnel has no response to wait for
        responseTimer = null;
        tunnel = Tunnel.start(e, b, this, listener, remote());
        // Removing the codecs hands any bytes they had buffered to the handlers behind them, now the tunnel's.
        ctx.pipeline().remove(ENCODER);
        ctx.pipeline().remove(DECODER);
        // Nothing uses them (or the response timer) again; dropped, they cost an idle tunnel no heap.
        encoder = null;
        decoder = null;
        clientText = null;
    }

    // ---- the client end of a tunnel ----

    @Override
    public void send(ByteBuf bytes) {
        Channel ch = ctx.channel();
        ch.write(QueuedPieces.compact(ch, bytes), ch.voidPromise());
    }

    @Override
    public void readable(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }

    @Override
    public boolean isActive() {
        return ctx.channel().isActive();
    }

    @Override
    public void end() {
        if (ctx.channel().isActive()) {
            ctx.channel().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void abort() {
        ctx.channel().close();
    }

    // ---- helpers ----

    private void releasePending() {
        if (pending == null) {
            return;
        }
        Object msg;
        while ((msg = pending.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
    }
}
