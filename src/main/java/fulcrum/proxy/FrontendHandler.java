package fulcrum.proxy;

import fulcrum.balance.EngineIoSessions;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.TargetGroupSettings;
import fulcrum.http.DecodedRequest;
import fulcrum.http.ForwardingHeaders;
import fulcrum.http.RejectedRequest;
import fulcrum.http.RequestDecoder;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * One client connection. Requests are handled one at a time, each on its own target: select,
 * lease a backend connection of this event loop, stream the request, stream the response back,
 * return the connection to the pool. Messages that arrive while the current request cannot take
 * them (pipelined requests, body bytes before the backend is connected) wait in a short queue;
 * when it is full the client is not read from.
 */
final class FrontendHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(FrontendHandler.class);
    
    /** Messages held before reading from the client stops. */
    private static final int MAX_PENDING = 32;

    static final String TLS = "tls";
    static final String DECODER = "decoder";
    static final String ENCODER = "encoder";
    static final String HANDLER = "handler";

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
    private Exchange ex;
    private BackendHandler backend;
    private Tunnel tunnel;
    private String clientText;
    private boolean backendFlushPending;
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
     */
    private ScheduledFuture<?> responseTimer;

    FrontendHandler(ListenerContext listener) {
        this.listener = listener;
        this.idleTimeoutNanos = listener.settings().idleTimeout().toNanos();
        this.headerTimeoutNanos = listener.settings().headerTimeout().toNanos();
    }

    // ---- client side events ----

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
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
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
        try {
            process(msg);
        } finally {
            inClientRead = false;
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (tunnel != null) {
            tunnel.clientReadComplete();
            return;
        }
        flushBackend();
        updateClientReading();
        if (ex == null && headStarted == 0 && !closing && decoder.midHead()) {
            headStarted = System.nanoTime();
            ctx.executor().schedule(this::checkHeader, headerTimeoutNanos, TimeUnit.NANOSECONDS);
        }
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
        closeWith(HttpResponseStatus.REQUEST_TIMEOUT);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (tunnel != null) {
            tunnel.clientWritabilityChanged();
        } else if (backend != null) {
            backend.channel().config().setAutoRead(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (idleSweep != null) {
            idleSweep.remove(this);
        }
        if (responseTimer != null) {
            responseTimer.cancel(false);
        }
        releasePending();
        if (tunnel != null) {
            tunnel.clientClosed();
        } else if (ex != null) {
            observe(ex, ex.responseStarted ? ex.status : 0);
            // The client left mid-exchange (an aborted long-poll): the backend connection is mid-message.
            if (backend != null) {
                BackendHandler b = backend;
                backend = null;
                endOnTarget();
                b.discard();
            }
            ex = null;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] client connection error: {}", ctx.channel().id(), cause.toString());
        ctx.close();
    }

    /** Marks traffic on the connection (either direction) for the idle timeout. */
    void touch() {
        active = true;
    }

    /** Closes the connection when it has been idle past the listener's idle timeout (called by {@link IdleSweep}). */
    void checkIdle(long now) {
        if (!ctx.channel().isActive()) {
            return;
        }
        if (active) {
            // Idle time counts from this tick: never early, at most a tick later than from the traffic itself.
            active = false;
            lastActivity = now;
            return;
        }
        long idle = now - lastActivity;
        // A request waiting for its response is the response timeout's to end.
        boolean waitingOnBackend = ex != null && tunnel == null && ex.requestComplete && !ex.responseStarted;
        if (idle < idleTimeoutNanos || waitingOnBackend) {
            return;
        }
        log.debug("[{}] idle for {} ms, closing", ctx.channel().id(), TimeUnit.NANOSECONDS.toMillis(idle));
        if (tunnel != null) {
            tunnel.closeBoth();
        } else {
            ctx.close();
        }
    }

    // ---- request path ----

    private boolean canProcess(Object msg) {
        if (msg instanceof RejectedRequest) {
            return true;
        }
        if (msg instanceof HttpRequest) {
            return ex == null;
        }
        if (msg instanceof HttpContent) {
            return ex != null && (ex.discarding || (backend != null && ex.headWritten));
        }
        return ex == null;
    }

    private void process(Object msg) {
        if (msg instanceof HttpRequest req) {
            startExchange(req);
        } else if (msg instanceof HttpContent c) {
            content(c);
        } else if (msg instanceof RejectedRequest r) {
            rejected(r);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * The decoder refused what the client sent (it discards everything after). A rejection can
     * come mid-body, after the head went to a backend: that exchange is abandoned too.
     */
    private void rejected(RejectedRequest r) {
        log.debug("[{}] request rejected ({}): {}", ctx.channel().id(), r.desyncClass(), r.reason());
        listener.observer().rejected(listener.settings().name(), r.status().code(), r.desyncClass());
        if (ex != null) {
            observe(ex, ex.responseStarted ? ex.status : r.status().code());
            if (backend != null) {
                BackendHandler b = backend;
                backend = null;
                endOnTarget();
                b.discard();
            }
            if (ex.responseStarted) {
                closing = true;
                ex = null;
                ctx.close();
                return;
            }
            ex = null;
        }
        closeWith(r.status());
    }

    private void drainPending() {
        Object msg;
        while (!closing && pending != null && (msg = pending.peek()) != null && canProcess(msg)) {
            pending.poll();
            process(msg);
        }
        flushBackend();
        updateClientReading();
    }

    private void startExchange(HttpRequest req) {
        headStarted = 0;
        ex = new Exchange(req);
        encoder.headRequest(ex.head);
        if (req instanceof DecodedRequest d && d.closeAfter()) {
            // Ambiguous framing: served once, then neither connection is trusted with another request.
            ex.closeClient = true;
        }
        RouteDecision route = listener.router().route(req, remote());
        if (route != null && route.answersItself()) {
            respond(route, null); // a redirect or fixed response
            return;
        }
        if (route == null) {
            respondError(HttpResponseStatus.SERVICE_UNAVAILABLE);
            return;
        }
        ex.group = route.group();
        ex.groupCookie = route.setCookie();
        listener.forwardingHeaders().request(req, remote(), clientText(), ex.upgrade);
        if (ex.closeClient) {
            req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        dispatch();
    }

    /** Answers {@code status} and closes: nothing after a bad request can be trusted to be framed right. */
    void closeWith(HttpResponseStatus status) {
        closing = true;
        releasePending();
        encoder.headRequest(false);
        ctx.writeAndFlush(ErrorResponses.of(ctx.alloc(), status, true)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Chooses a target for the current exchange and gets a connection to it. */
    private void dispatch() {
        TargetGroup group = ex.group;
        Target target = ex.affinity.choose(group, ex.request, ex.tried);
        if (target == null) {
            respondError(HttpResponseStatus.SERVICE_UNAVAILABLE);
            return;
        }
        ex.target = target;
        ex.attempts++;
        TargetGroupSettings s = group.settings();
        BackendHandler idle = pool.pollIdle(target, s.keepAliveTimeout().toNanos());
        if (idle != null) {
            attach(idle);
            return;
        }
        BackendHandler b = new BackendHandler(target, pool);
        Exchange started = ex;
        ChannelFuture f = pool.connect(target, s, b);
        if (f.isDone()) {
            connected(f, b, started);
        } else {
            f.addListener((ChannelFuture cf) -> connected(cf, b, started));
        }
    }

    private void connected(ChannelFuture f, BackendHandler b, Exchange started) {
        if (ex != started || closing) {
            b.channel().close();
            return;
        }
        if (!f.isSuccess()) {
            String reason = connectFailure(f.cause(), ex.group.settings().connectTimeout());
            log.debug("[{}] connect to {} failed: {}", ctx.channel().id(), b.target(), reason);
            retryOrFail(HttpResponseStatus.BAD_GATEWAY, reason);
            return;
        }
        attach(b);
    }

    private void attach(BackendHandler b) {
        backend = b;
        b.lease(this);
        b.channel().config().setAutoRead(ctx.channel().isWritable());
        ex.target.requestStarted();
        ex.onTarget = true;
        b.channel().write(ex.request, b.channel().voidPromise());
        ex.headWritten = true;
        ex.sentNanos = ex.lastBackendActivity = System.nanoTime();
        if (ex.requestComplete) {
            // A retry of a bodiless request whose end was already consumed.
            b.channel().write(LastHttpContent.EMPTY_LAST_CONTENT, b.channel().voidPromise());
        }
        backendFlushPending = true;
        if (responseTimer == null) {
            responseTimer = ctx.executor().schedule(this::checkResponseTimeout,
                                                    ex.group.settings().responseTimeout().toNanos(),
                                                    TimeUnit.NANOSECONDS);
        }
        drainPending();
    }

    private void content(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        if (ex.discarding) {
            c.release();
            if (last) {
                ex.requestComplete = true;
                if (ex.responseComplete) {
                    endExchange();
                }
            }
            return;
        }
        int n = c.content().readableBytes();
        if (n > 0) {
            ex.bodyForwarded = true;
            ex.bytesReceived += n;
        }
        backend.channel().write(c, backend.channel().voidPromise());
        backendFlushPending = true;
        if (last) {
            ex.requestComplete = true;
        }
    }

    private void flushBackend() {
        if (backendFlushPending && backend != null && !inClientRead) {
            backendFlushPending = false;
            backend.channel().flush();
        }
    }

    private void updateClientReading() {
        boolean read = !closing && (pending == null || pending.size() < MAX_PENDING)
                       && (backend == null || backend.channel().isWritable());
        ctx.channel().config().setAutoRead(read);
    }

    // ---- response path (called by the leased BackendHandler) ----

    void backendRead(BackendHandler b, Object msg) {
        if (b != backend || ex == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        // A response streaming to the client is traffic for the idle timeout too.
        touch();
        ex.lastBackendActivity = System.nanoTime();
        if (msg instanceof HttpResponse res) {
            responseHead(res);
            if (msg instanceof HttpContent c && backend != null) {
                responseContent(c);
            } else {
                ReferenceCountUtil.release(msg);
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            responseContent(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void responseHead(HttpResponse res) {
        if (res.decoderResult().isFailure()) {
            log.debug("[{}] bad response from {}: {}", ctx.channel().id(), ex.target, res.decoderResult().cause());
            backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
            return;
        }
        int code = res.status().code();
        ex.targetStatus = code;
        if (code == 101) {
            if (!ex.upgrade) {
                log.debug("[{}] unsolicited 101 from {}", ctx.channel().id(), ex.target);
                backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
                return;
            }
            ForwardingHeaders.response(res, true);
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            addCookie(res);
            ex.switching = true;
            ex.responseStarted = true;
            ex.responseNanos = System.nanoTime();
            ex.status = code;
            ctx.write(res, ctx.voidPromise());
            return;
        }
        if (code >= 100 && code < 200) {
            // Informational (100 Continue, 103 Early Hints): passed on; the real response follows.
            ex.informational = true;
            ForwardingHeaders.response(res, false);
            ctx.write(res, ctx.voidPromise());
            return;
        }
        ex.responseStarted = true;
        ex.responseNanos = System.nanoTime();
        ex.status = code;
        ex.backendKeepAlive = HttpUtil.isKeepAlive(res);
        if (ex.affinity.engineIoHandshake() && code == 200) {
            ex.learnSid = true;
        } else if (ex.affinity.sid() != null && code == 400) {
            ex.group.engineIo().forget(ex.affinity.sid()); // the target no longer knows the session
        }
        ForwardingHeaders.response(res, false);
        frameForClient(res, code);
        addCookie(res);
        ctx.write(res, ctx.voidPromise());
    }

    /** Makes the response's framing one the client can read, and decides whether to close after it. */
    private void frameForClient(HttpResponse res, int code) {
        boolean client10 = ex.client10;
        boolean bodyless = ex.head || code == 204 || code == 304;
        boolean chunked = HttpUtil.isTransferEncodingChunked(res);
        boolean close = !ex.clientKeepAlive || ex.closeClient || listener.stopping();
        if (!bodyless && !chunked && !res.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // Delimited by the backend closing: re-frame as chunked, or close after it for HTTP/1.0.
            ex.backendKeepAlive = false;
            if (client10) {
                close = true;
            } else {
                HttpUtil.setTransferEncodingChunked(res, true);
            }
        } else if (chunked && client10) {
            res.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
            close = true;
        }
        res.setProtocolVersion(HttpVersion.HTTP_1_1);
        if (close) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (client10) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        ex.closeClient = close;
    }

    private void addCookie(HttpResponse res) {
        if (ex.groupCookie != null) {
            res.headers().add(HttpHeaderNames.SET_COOKIE, ex.groupCookie);
        }
        if (ex.affinity.setCookie()) {
            res.headers().add(HttpHeaderNames.SET_COOKIE,
                              ex.group.cookie().setCookie(ex.target, listener.tls(), System.currentTimeMillis()));
        }
    }

    private void responseContent(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            c.release();
            backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        if (ex.informational) {
            // Its end resets the encoder for the final response; it carries no bytes.
            ctx.write(c, ctx.voidPromise());
            if (last) {
                ex.informational = false;
            }
            return;
        }
        if (ex.switching) {
            c.release();
            if (last) {
                startTunnel();
            }
            return;
        }
        if (ex.learnSid && c.content().isReadable()) {
            ex.learnSid = false;
            ex.group.engineIo().learn(c.content(), ex.target, System.nanoTime());
        }
        ex.bytesSent += c.content().readableBytes();
        ctx.write(c, ctx.voidPromise());
        if (last) {
            responseComplete();
        } else if (!ctx.channel().isWritable()) {
            backend.channel().config().setAutoRead(false);
        }
    }

    void backendReadComplete(BackendHandler b) {
        if (b == backend || backend == null) {
            ctx.flush();
        }
    }

    void backendWritabilityChanged(BackendHandler b) {
        if (b == backend) {
            updateClientReading();
        }
    }

    private void responseComplete() {
        observe(ex, ex.status);
        ex.responseComplete = true;
        BackendHandler b = backend;
        backend = null;
        endOnTarget();
        if (ex.backendKeepAlive && ex.requestComplete) {
            b.release(ex.group.settings().maxIdleConnections());
        } else {
            b.discard();
        }
        if (ex.closeClient) {
            closeAfterFlush();
            return;
        }
        if (ex.requestComplete) {
            endExchange();
        } else {
            // The backend answered before the body ended: the rest of it is read and dropped.
            ex.discarding = true;
            ctx.flush();
            drainPending();
        }
    }

    private void endExchange() {
        boolean upgradeAsked = ex.upgradeHeader;
        ex = null;
        if (listener.stopping()) {
            closeAfterFlush();
            return;
        }
        ctx.flush();
        if (upgradeAsked) {
            // The decoder paused after a request asking to switch protocols; it was not switched.
            decoder.upgradeDeclined();
        }
        drainPending();
    }

    /** Shutdown has begun: an idle connection closes now, a busy one after its exchange. */
    void shutdown() {
        if (closing || tunnel != null) {
            return;
        }
        if (ex == null) {
            closeAfterFlush();
        } else {
            ex.closeClient = true;
        }
    }

    /** The shutdown grace is over. */
    void forceClose() {
        if (tunnel != null) {
            tunnel.goingAway();
        } else {
            ctx.close();
        }
    }

    private void endOnTarget() {
        if (ex != null && ex.onTarget) {
            ex.onTarget = false;
            ex.target.requestEnded();
        }
    }

    private void closeAfterFlush() {
        closing = true;
        ex = null;
        releasePending();
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    void backendClosed(BackendHandler b) {
        if (b != backend || ex == null) {
            return;
        }
        log.debug("[{}] backend {} closed during the exchange", ctx.channel().id(), b.target());
        backendFailed(HttpResponseStatus.BAD_GATEWAY, true);
    }

    private void checkResponseTimeout() {
        responseTimer = null;
        if (ex == null || backend == null || ex.switching || closing) {
            return; // the next exchange arms it again
        }
        long timeout = ex.group.settings().responseTimeout().toNanos();
        long quiet = System.nanoTime() - ex.lastBackendActivity;
        if (quiet < timeout) {
            responseTimer = ctx.executor().schedule(this::checkResponseTimeout, timeout - quiet, TimeUnit.NANOSECONDS);
            return;
        }
        log.debug("[{}] {} silent for {} ms", ctx.channel().id(), ex.target, TimeUnit.NANOSECONDS.toMillis(quiet));
        backendFailed(HttpResponseStatus.GATEWAY_TIMEOUT, false);
    }

    /**
     * The backend connection failed before or during the response. Before a response byte went
     * to the client the request may move to another target, when that cannot run it twice;
     * after, the client connection is closed, since its response cannot be completed.
     */
    private void backendFailed(HttpResponseStatus status, boolean closedBeforeAnswer) {
        BackendHandler b = backend;
        backend = null;
        endOnTarget();
        if (b != null) {
            b.discard();
        }
        if (ex.responseStarted) {
            observe(ex, ex.status);
            ctx.flush();
            closing = true;
            ctx.close();
            return;
        }
        boolean replayable = closedBeforeAnswer && !ex.bodyForwarded && ex.idempotent();
        if (replayable) {
            retryOrFail(status, null);
        } else {
            respondError(status);
        }
    }

    /** Moves the request to another target when attempts remain, otherwise answers {@code status}. */
    private void retryOrFail(HttpResponseStatus status, String connectFailure) {
        if (connectFailure != null) {
            ex.group.passiveFailure(ex.target, connectFailure);
            listener.observer().connectFailed(ex.group.name(), ex.target.id());
        }
        if (ex.attempts <= ex.group.settings().maxRetries()) {
            listener.observer().retried(ex.group.name(), ex.target.id());
            if (ex.tried == null) {
                ex.tried = new java.util.ArrayList<>(2);
            }
            ex.tried.add(ex.target);
            ex.headWritten = false;
            dispatch();
            return;
        }
        respondError(status);
    }

    /** Answers the current exchange with the balancer's own error response. */
    private void respondError(HttpResponseStatus status) {
        respond(null, status);
    }

    /**
     * Answers the current exchange from the balancer: with a rule's own response when {@code own}
     * is given, the error {@code status} otherwise. The connection stays open unless the client
     * asked to close; a request body still coming is read and dropped.
     */
    private void respond(RouteDecision own, HttpResponseStatus status) {
        observe(ex, own != null ? own.status() : status.code());
        ex.responseStarted = true;
        ex.responseComplete = true;
        boolean mayBeWaiting = !ex.requestComplete && HttpUtil.is100ContinueExpected(ex.request);
        boolean close = !ex.clientKeepAlive || mayBeWaiting || ex.closeClient;
        encoder.headRequest(ex.head);
        ChannelFuture f = ctx.writeAndFlush(own != null ? own.response(ctx.alloc(), close)
                                                        : ErrorResponses.of(ctx.alloc(), status, close));
        if (close) {
            closing = true;
            ex = null;
            releasePending();
            f.addListener(ChannelFutureListener.CLOSE);
        } else if (ex.requestComplete) {
            endExchange();
        } else {
            ex.discarding = true;
            drainPending();
        }
    }

    // ---- WebSocket ----

    private void startTunnel() {
        observe(ex, 101);
        BackendHandler b = backend;
        backend = null;
        Target target = ex.target;
        endOnTarget();
        EngineIoSessions sessions = ex.affinity.engineIoWebSocket() ? ex.group.engineIo() : null;
        ExchangeObserver observer = listener.observer();
        // An idle tunnel holds its request's URI and id only for an observer that writes them.
        boolean details = observer.recordsRequests();
        Tunnel.Origin origin = new Tunnel.Origin(listener.settings().name(), remote(), ex.group.name(),
                                                 details ? ex.request.uri() : null,
                                                 details ? ex.request.headers().get(Exchange.X_REQUEST_ID) : null,
                                                 System.currentTimeMillis(), observer);
        ex = null;
        releasePending();
        pending = null;
        if (responseTimer != null) {
            responseTimer.cancel(false); // a tunnel has no response to wait for
            responseTimer = null;
        }
        tunnel = new Tunnel(this, ctx.channel(), b.channel(), target, origin);
        if (sessions != null) {
            tunnel.learnSessionInto(sessions);
        }
        b.startTunnel(tunnel);
        ctx.flush();
        // Removing the codecs hands any bytes they had buffered to the handlers behind them, now the tunnel's.
        ctx.pipeline().remove(ENCODER);
        ctx.pipeline().remove(DECODER);
        // Nothing uses them again; dropped, they cost an idle tunnel no heap.
        encoder = null;
        decoder = null;
        clientText = null;
        b.channel().pipeline().remove(BackendPool.CODEC);
        b.channel().config().setAutoRead(ctx.channel().isWritable());
        ctx.channel().config().setAutoRead(b.channel().isWritable());
    }

    // ---- observation ----

    /** Reports the exchange once to the listener's observer (metrics, access log). */
    private void observe(Exchange e, int status) {
        ExchangeObserver o = listener.observer();
        if (o == ExchangeObserver.NONE || e.observed) {
            return;
        }
        e.observed = true;
        o.exchangeEnded(e.record(listener.settings().name(), remote(), status));
    }

    // ---- helpers ----

    private InetSocketAddress remote() {
        return (InetSocketAddress) ctx.channel().remoteAddress();
    }

    /** The client's address as forwarding headers write it, made once per connection. */
    private String clientText() {
        if (clientText == null) {
            clientText = ForwardingHeaders.clientText(remote());
        }
        return clientText;
    }

    private void releasePending() {
        if (pending == null) {
            return;
        }
        Object msg;
        while ((msg = pending.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Says why a connect failed in the words health checks use ("connection refused", "timeout after 5s"). */
    private static String connectFailure(Throwable cause, java.time.Duration timeout) {
        if (cause instanceof io.netty.channel.ConnectTimeoutException) {
            return "timeout after " + timeout.toMillis() + "ms";
        }
        if (cause instanceof java.net.ConnectException) {
            return "connection refused";
        }
        return cause == null ? "connect failed" : cause.getClass().getSimpleName() + ": " + cause.getMessage();
    }
}
