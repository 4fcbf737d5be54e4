package fulcrum.proxy;

import fulcrum.balance.Affinity;
import fulcrum.balance.EngineIoHandshake;
import fulcrum.balance.SessionStore;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.TargetGroupSettings;
import fulcrum.http.DecodedRequest;
import fulcrum.http.DesyncClass;
import fulcrum.http.ForwardingHeaders;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.FastThreadLocal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One request and its response, from routing to its end. It owns its backend lease, its retries
 * and its response deadline, and it {@linkplain #finish ends exactly once}: the one place that
 * releases or closes the backend connection, records the exchange and frees the client for the
 * next request. It talks to its client only through {@link ClientStream}, and to its backend only
 * through {@link BackendStream}'s verbs, so the same object serves an HTTP/1.1 connection's request
 * and an HTTP/2 stream, to an HTTP/1.1 connection of its own or a stream of a shared HTTP/2 one.
 *
 * <p>Runs on one event loop: its client's, which its backend connections share.
 */
final class Exchange {
    private static final Logger log = LoggerFactory.getLogger(Exchange.class);
    /** The record handed to observers that keep none: one per event loop, overwritten by each exchange. */
    private static final FastThreadLocal<ExchangeObserver.ExchangeRecord> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected ExchangeObserver.ExchangeRecord initialValue() {
            return new ExchangeObserver.ExchangeRecord();
        }
    };
    static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");

    /** Where the exchange stands; request body progress is separate ({@link #requestComplete}). */
    enum Phase {
        /** Choosing a target group and target. */
        ROUTING,
        /** Waiting for a new backend connection. */
        CONNECTING,
        /** The request head went to the backend; no final response head yet. */
        AWAITING,
        /** A final response head went to the client; its body is streaming. */
        RESPONDING,
        /** A 101 went to the client; at its end the connection becomes a tunnel. */
        SWITCHING,
        /** Ended: the backend is released or closed and the exchange recorded. */
        DONE
    }

    /** What {@link #finish} does with the backend connection. */
    private enum BackendEnd { RELEASE, CLOSE, TUNNEL }

    private final ClientStream client;
    final HttpRequest request;
    final boolean head;
    /** A WebSocket upgrade: its 101 turns the connection into a tunnel. */
    final boolean upgrade;
    final boolean clientKeepAlive;
    final boolean client10;
    /** Any Upgrade header: the decoder pauses after such a request until the answer is known. */
    final boolean upgradeHeader;
    final String protocol;
    private final LoopClock clock;
    final long startNanos;
    final Affinity affinity = new Affinity();

    private Phase phase = Phase.ROUTING;
    TargetGroup group;
    Target target;
    /** The leased backend stream, from CONNECTING's end to the exchange's end; null otherwise. */
    private BackendStream backend;
    /** A grpc group's: its errors are gRPC statuses, its clients' grpc-timeout a deadline. */
    private boolean grpc;
    /** The client's grpc-timeout as a System.nanoTime() deadline; 0 when none. */
    private long grpcDeadline;
    /** The response head stated its length: a body cut short cannot be ended with trailers. */
    private boolean responseLengthKnown;
    /** Targets this request failed on, not to be tried again; null until a retry. */
    private List<Target> tried;
    private int attempts;
    /** Whether the target counts this request as outstanding. */
    private boolean onTarget;
    /** A Set-Cookie of the listener rule (group-level stickiness), or null. */
    private String groupCookie;
    private boolean requestComplete;
    private boolean bodyForwarded;
    /** Body pieces written to the backend and not yet flushed. */
    private boolean backendFlushPending;
    /** The request went to the backend with Connection: close: that connection ends with this exchange. */
    private boolean sentClose;
    /** The backend keeps its connection open after this response, and its end is known from framing. */
    private boolean backendKeepAlive;
    /** Between a 1xx head (other than 101) and its end. */
    private boolean informational;
    /** The client connection closes once this exchange's response is sent. */
    private boolean closeClient;
    /** Reads the Engine.IO handshake in the response body, however it is split; null when none is awaited. */
    private EngineIoHandshake handshake;
    /** Waiting (in ROUTING) for the cluster to say where an unknown Engine.IO session lives. */
    private boolean awaitingShared;
    private long lastBackendActivity;
    private long sentNanos;
    private long responseNanos;
    private long bytesReceived;
    private long bytesSent;
    private int status;
    private int targetStatus = -1;
    /** The listener's decision, for the record; null until routed, or when nothing could take it. */
    private RouteDecision route;
    /** What the observer was told at the end; kept for the tunnel a 101 opens. */
    private ExchangeObserver.ExchangeRecord observed;

    Exchange(ClientStream client, HttpRequest request) {
        this.client = client;
        this.request = request;
        this.clock = client.pool().clock();
        this.startNanos = clock.nanos();
        this.protocol = request.protocolVersion().text();
        this.head = request.method() == HttpMethod.HEAD;
        this.client10 = request.protocolVersion() == HttpVersion.HTTP_1_0;
        this.clientKeepAlive = HttpUtil.isKeepAlive(request);
        this.upgradeHeader = request.headers().contains(HttpHeaderNames.UPGRADE);
        this.upgrade = request.method() == HttpMethod.GET
                       && request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
        // Ambiguous framing: served once, then neither connection is trusted with another request.
        this.closeClient = request instanceof DecodedRequest d && d.closeAfter();
    }

    Phase phase() {
        return phase;
    }

    boolean requestComplete() {
        return requestComplete;
    }

    boolean closeClient() {
        return closeClient;
    }

    /** The client connection is to close after this exchange (shutdown, a rejected follower). */
    void closeClientAfter() {
        closeClient = true;
    }

    /** Whether a request body piece can be taken now (forwarded, or dropped after the end). */
    boolean acceptsBody() {
        return phase == Phase.DONE || (backend != null && phase != Phase.CONNECTING);
    }

    /** Waiting on the target for the response head, which only the response timeout may end. */
    boolean awaitingResponse() {
        return phase == Phase.AWAITING && requestComplete;
    }

    /** Whether the backend takes more request bytes now; true when there is none. */
    boolean backendWritable() {
        return backend == null || backend.isWritable();
    }

    // ---- client side ----

    /** Routes the request and sends it on its way, or answers it. */
    void start() {
        ListenerContext listener = client.listener();
        RouteDecision route = listener.router().route(request, client.remote());
        this.route = route;
        if (route != null && route.answersItself()) {
            respond(route.status(), route.response(client.alloc(), closeOwnResponse()));
            return;
        }
        if (route == null) {
            respondError(HttpResponseStatus.SERVICE_UNAVAILABLE);
            return;
        }
        group = route.group();
        groupCookie = route.setCookie();
        if (group.settings().protocolVersion() == TargetGroupSettings.ProtocolVersion.GRPC) {
            grpc = true;
            long t = GrpcStatus.timeoutNanos(request.headers().get(GrpcStatus.TIMEOUT));
            if (t >= 0) {
                grpcDeadline = startNanos + t;
            }
        }
        listener.forwardingHeaders().request(request, client.remote(), client.clientText(), upgrade);
        if (closeClient) {
            // Forwarding headers removed the client's Connection field: this is the only close a target is sent.
            request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            sentClose = true;
        }
        dispatch();
    }

    /** A piece of the request body: forwarded, or dropped once the exchange has ended. */
    void requestContent(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        if (last) {
            requestComplete = true;
        }
        if (phase == Phase.DONE) {
            c.release();
            return;
        }
        int n = c.content().readableBytes();
        if (n > 0) {
            bodyForwarded = true;
            bytesReceived += n;
        }
        backend.send(c);
        backendFlushPending = true;
    }

    /** Sends what was written to the backend since the last flush. */
    void flushBackend() {
        if (backendFlushPending && backend != null) {
            backendFlushPending = false;
            backend.flush();
        }
    }

    /** The client can take response bytes again, or cannot: the backend is read accordingly. */
    void clientWritable(boolean writable) {
        if (backend != null) {
            backend.readable(writable);
        }
    }

    /** The decoder refused the rest of this request (a bad chunk, a body over the limit). */
    void abort(HttpResponseStatus rejection) {
        if (phase == Phase.DONE) {
            return;
        }
        closeClient = true;
        if (phase == Phase.RESPONDING || phase == Phase.SWITCHING) {
            finish(status, BackendEnd.CLOSE);
            return;
        }
        respondError(rejection);
    }

    /** The client connection closed: a long-poll given up, a page left. */
    void clientClosed() {
        closeClient = true;
        finish(phase == Phase.RESPONDING || phase == Phase.SWITCHING ? status : 0, BackendEnd.CLOSE);
    }

    /**
     * The response timer's check: nanoseconds until the exchange's response deadline, or -1 when
     * it waits for none (no backend, a switch, the end). A deadline passed ends the exchange.
     */
    long checkResponseTimeout(long now) {
        if (backend == null || phase == Phase.SWITCHING || phase == Phase.DONE) {
            return -1;
        }
        long timeout = group.settings().responseTimeout().toNanos();
        long quiet = now - lastBackendActivity;
        long left = timeout - quiet;
        if (grpcDeadline != 0) {
            left = Math.min(left, grpcDeadline - now);
        }
        if (left > 0) {
            return left;
        }
        log.debug("{} silent for {} ms, or the client's grpc-timeout passed", target, quiet / 1_000_000);
        backendFailed(HttpResponseStatus.GATEWAY_TIMEOUT, false);
        return -1;
    }

    // ---- target choice and backend connection ----

    private void dispatch() {
        CompletionStage<SessionStore.Shared> shared = affinity.sharedLookup(group, request);
        if (shared != null) {
            awaitShared(shared);
            return;
        }
        Target t = affinity.choose(group, request, tried);
        if (t == null) {
            respondError(HttpResponseStatus.SERVICE_UNAVAILABLE);
            return;
        }
        target = t;
        attempts++;
        TargetGroupSettings s = group.settings();
        BackendPool pool = client.pool();
        if (s.protocolVersion() != TargetGroupSettings.ProtocolVersion.HTTP1) {
            phase = Phase.CONNECTING;
            H2BackendStream stream = new H2BackendStream(t);
            pool.openStream(t, s, stream, cause -> connected(stream, cause));
            return;
        }
        BackendHandler idle = pool.pollIdle(t, s.keepAliveTimeout().toNanos());
        if (idle != null) {
            attach(idle);
            return;
        }
        phase = Phase.CONNECTING;
        BackendHandler b = new BackendHandler(t, pool);
        ChannelFuture f = pool.connect(t, s, b);
        if (f.isDone()) {
            connected(b, f.isSuccess() ? null : f.cause());
        } else {
            f.addListener((ChannelFuture cf) -> connected(b, cf.isSuccess() ? null : cf.cause()));
        }
    }

    /**
     * Waits for the shared store's answer about the request's session, at most its lookup
     * timeout: the answer (or the timer) comes back to this exchange's loop and the choice goes on
     * with whatever is known then. Only requests with a sid unknown here ever wait.
     */
    private void awaitShared(CompletionStage<SessionStore.Shared> lookup) {
        io.netty.channel.EventLoop loop = client.pool().loop();
        awaitingShared = true;
        io.netty.util.concurrent.ScheduledFuture<?> timer =
                loop.schedule(() -> {
                    if (awaitingShared && phase == Phase.ROUTING) {
                        group.engineIo().lookupTimedOut();
                    }
                    sharedAnswered();
                }, group.engineIo().lookupTimeoutMillis(), TimeUnit.MILLISECONDS);
        lookup.whenComplete((s, e) -> {
            try {
                loop.execute(() -> {
                    timer.cancel(false);
                    if (s != null) {
                        // Learnt even when it came too late for this request: the next ones need no lookup.
                        group.engineIo().adopt(affinity.sid(), s, group.snapshot(), System.nanoTime());
                    }
                    sharedAnswered();
                });
            } catch (RejectedExecutionException stopping) {
                // The loop is shutting down; its connections close with it.
            }
        });
    }

    private void sharedAnswered() {
        if (!awaitingShared || phase != Phase.ROUTING) {
            return;
        }
        awaitingShared = false;
        dispatch();
    }

    /** The backend connection (or stream) was opened, or could not be ({@code failure} not null). */
    private void connected(BackendStream b, Throwable failure) {
        if (phase != Phase.CONNECTING || b.target() != target) {
            b.close(); // the exchange ended (or moved on) while this connection was being opened
            return;
        }
        if (failure != null) {
            String reason = connectFailure(failure, group.settings().connectTimeout());
            log.debug("connect to {} failed: {}", b.target(), reason);
            group.passiveFailure(target, reason);
            answered(HttpResponseStatus.BAD_GATEWAY.code(), true);
            client.listener().observer().connectFailed(group.name(), target.id());
            retryOrFail(HttpResponseStatus.BAD_GATEWAY);
            return;
        }
        attach(b);
    }

    private void attach(BackendStream b) {
        backend = b;
        phase = Phase.AWAITING;
        b.lease(this);
        b.readable(client.isWritable());
        target.requestStarted();
        onTarget = true;
        b.send(request);
        sentNanos = lastBackendActivity = clock.nanos();
        if (requestComplete) {
            // A retry of a bodiless request whose end was already consumed.
            b.send(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        backendFlushPending = true;
        long timeout = group.settings().responseTimeout().toNanos();
        if (grpcDeadline != 0) {
            timeout = Math.max(1, Math.min(timeout, grpcDeadline - sentNanos));
        }
        client.requestSent(timeout);
    }

    /** Moves the request to another target when attempts remain, otherwise answers {@code status}. */
    private void retryOrFail(HttpResponseStatus status) {
        if (attempts > group.settings().maxRetries()) {
            respondError(status);
            return;
        }
        client.listener().observer().retried(group.name(), target.id());
        if (tried == null) {
            tried = new ArrayList<>(2);
        }
        tried.add(target);
        phase = Phase.ROUTING;
        dispatch();
    }

    // ---- response path (called by the leased BackendStream) ----

    void backendRead(BackendStream b, Object msg) {
        if (b != backend) {
            ReferenceCountUtil.release(msg);
            return;
        }
        // A response streaming to the client is traffic for the idle timeout too.
        client.touch();
        lastBackendActivity = clock.nanos();
        if (msg instanceof FullHttpResponse whole) {
            // An HTTP/2 target's HEADERS that ended its stream (gRPC's trailers-only answer): passed on as one.
            responseHead(whole);
            if (phase == Phase.RESPONDING && backend != null) {
                finish(status, BackendEnd.RELEASE);
            }
            return;
        }
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

    void backendReadComplete(BackendStream b) {
        if (b == backend || backend == null) {
            client.flush();
        }
    }

    void backendWritabilityChanged(BackendStream b) {
        if (b == backend) {
            client.backendWritabilityChanged();
        }
    }

    void backendClosed(BackendStream b) {
        if (b != backend) {
            return;
        }
        log.debug("backend {} closed during the exchange", b.target());
        backendFailed(HttpResponseStatus.BAD_GATEWAY, true);
    }

    /**
     * The target refused the stream unprocessed (REFUSED_STREAM, or above a GOAWAY's last stream
     * id): whatever its method, the request may go elsewhere while none of its body was sent.
     */
    void backendRefused(BackendStream b) {
        if (b != backend) {
            return;
        }
        log.debug("{} refused the stream unprocessed", b.target());
        if (phase == Phase.AWAITING && !bodyForwarded) {
            answered(HttpResponseStatus.BAD_GATEWAY.code(), true);
            backend = null;
            endOnTarget();
            b.close();
            retryOrFail(HttpResponseStatus.BAD_GATEWAY);
            return;
        }
        backendFailed(HttpResponseStatus.BAD_GATEWAY, true);
    }

    private void responseHead(HttpResponse res) {
        if (res.decoderResult().isFailure()) {
            log.debug("bad response from {}: {}", target, res.decoderResult().cause());
            backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
            return;
        }
        int code = res.status().code();
        targetStatus = code;
        if (code == 101 || code >= 200) {
            answered(code, false);
        }
        if (code == 101) {
            if (!upgrade) {
                log.debug("unsolicited 101 from {}", target);
                backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
                return;
            }
            ForwardingHeaders.response(res, true);
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            addCookies(res);
            responseStarted(Phase.SWITCHING, code);
            client.write(res);
            return;
        }
        if (code >= 100 && code < 200) {
            // Informational (100 Continue, 103 Early Hints): passed on; the real response follows.
            informational = true;
            ForwardingHeaders.response(res, false);
            client.write(res);
            return;
        }
        responseStarted(Phase.RESPONDING, code);
        backendKeepAlive = HttpUtil.isKeepAlive(res) && delimitedByFraming(res, code);
        responseLengthKnown = res.headers().contains(HttpHeaderNames.CONTENT_LENGTH);
        if (affinity.engineIoHandshake() && code == 200) {
            handshake = group.engineIo().handshake(target);
        } else if (affinity.sid() != null && code == 400) {
            // The target no longer knows the session: when it is the session's own target, no one does.
            if (affinity.sessionTarget()) {
                group.engineIo().ended(affinity.sid());
            } else {
                group.engineIo().forget(affinity.sid());
            }
        }
        ForwardingHeaders.response(res, false);
        if (client.frameResponse(this, res)) {
            closeClient = true;
        }
        addCookies(res);
        client.write(res);
    }

    /** Whether the response's end is known from its head; otherwise the backend's close ends it. */
    private boolean delimitedByFraming(HttpResponse res, int code) {
        return head || code == 204 || code == 304 || HttpUtil.isTransferEncodingChunked(res)
               || res.headers().contains(HttpHeaderNames.CONTENT_LENGTH);
    }

    private void responseStarted(Phase next, int code) {
        phase = next;
        responseNanos = clock.nanos();
        status = code;
    }

    private void addCookies(HttpResponse res) {
        if (groupCookie != null) {
            res.headers().add(HttpHeaderNames.SET_COOKIE, groupCookie);
        }
        if (affinity.setCookie()) {
            res.headers().add(HttpHeaderNames.SET_COOKIE,
                              group.cookie().setCookie(target, client.listener().tls(), clock.millis()));
        }
    }

    private void responseContent(HttpContent c) {
        if (c.decoderResult().isFailure()) {
            c.release();
            backendFailed(HttpResponseStatus.BAD_GATEWAY, false);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        if (informational) {
            // Its end resets the encoder for the final response; it carries no bytes.
            client.write(c);
            informational = !last;
            return;
        }
        if (phase == Phase.SWITCHING) {
            c.release();
            if (last) {
                finish(101, BackendEnd.TUNNEL);
            }
            return;
        }
        if (handshake != null && handshake.feed(c.content(), System.nanoTime())) {
            handshake = null;
        }
        bytesSent += c.content().readableBytes();
        client.write(c);
        if (last) {
            finish(status, backendKeepAlive && requestComplete && !sentClose ? BackendEnd.RELEASE : BackendEnd.CLOSE);
        } else if (!client.isWritable()) {
            backend.readable(false);
        }
    }

    /**
     * The backend connection failed before or during the response. Before a response byte went
     * to the client the request may move to another target, when that cannot run it twice;
     * after, the client connection is closed, since its response cannot be completed.
     */
    private void backendFailed(HttpResponseStatus failure, boolean closedBeforeAnswer) {
        if (phase != Phase.RESPONDING && phase != Phase.SWITCHING) {
            answered(failure.code(), true); // reset, silent past the timeout, or not HTTP
        }
        BackendStream b = backend;
        backend = null;
        endOnTarget();
        if (b != null) {
            b.close();
        }
        if (phase == Phase.RESPONDING || phase == Phase.SWITCHING) {
            closeClient = true;
            if (grpc && phase == Phase.RESPONDING && !responseLengthKnown && !informational) {
                // A gRPC response cut short ends with a status its client understands, not a reset.
                client.write(GrpcStatus.trailers(failure));
                client.flush();
            }
            finish(status, BackendEnd.CLOSE);
            return;
        }
        if (closedBeforeAnswer && !bodyForwarded && idempotent()) {
            retryOrFail(failure);
        } else {
            respondError(failure);
        }
    }

    /** Tells outlier detection what the target's answer was; an ejection it causes is observed. */
    private void answered(int code, boolean gatewayFailure) {
        TargetGroup.Ejection e = group.answered(target, code, gatewayFailure);
        if (e != null) {
            client.listener().observer().ejected(group.name(), e.target().id(), e.duration(), e.reason());
        }
    }

    // ---- the balancer's own answers ----

    private void respondError(HttpResponseStatus error) {
        if (grpc) {
            // A gRPC client reads statuses, not pages: a trailers-only 200. The record keeps the
            // failure's HTTP code, so metrics and the access log count it as for any group.
            FullHttpResponse res = GrpcStatus.response(error);
            if (closeOwnResponse()) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            respond(error.code(), res);
            return;
        }
        respond(error.code(), ErrorResponses.of(client.alloc(), error, closeOwnResponse()));
    }

    /**
     * Whether the connection closes after an answer of the balancer's own: when the client asked,
     * when the exchange must, or when a request body may be held back for a 100 Continue that
     * will never come.
     */
    private boolean closeOwnResponse() {
        if (!clientKeepAlive || (!requestComplete && HttpUtil.is100ContinueExpected(request))) {
            closeClient = true;
        }
        return closeClient;
    }

    private void respond(int code, FullHttpResponse response) {
        responseStarted(Phase.RESPONDING, code);
        client.write(response);
        client.flush();
        finish(code, BackendEnd.CLOSE);
    }

    // ---- the end ----

    /**
     * The exchange's one end: the backend connection is released to its pool, closed, or handed
     * to a tunnel; the target stops counting the request; the observer records it; the client is
     * told, which moves on to its next request, closes, or starts the tunnel.
     */
    private void finish(int finalStatus, BackendEnd backendEnd) {
        if (phase == Phase.DONE) {
            return;
        }
        phase = Phase.DONE;
        BackendStream b = backend;
        backend = null;
        endOnTarget();
        observe(finalStatus);
        if (b != null) {
            switch (backendEnd) {
                case RELEASE -> b.release(group.settings().maxIdleConnections());
                case CLOSE -> b.close();
                case TUNNEL -> {
                    // Only an HTTP/1.1 connection answers 101 (an HTTP/2 stream refuses it as malformed).
                    client.startTunnel(this, (BackendHandler) b);
                    return;
                }
            }
        }
        client.exchangeDone(this);
    }

    private void endOnTarget() {
        if (onTarget) {
            onTarget = false;
            target.requestEnded();
        }
    }

    private void observe(int finalStatus) {
        ExchangeObserver o = client.listener().observer();
        if (o != ExchangeObserver.NONE) {
            ExchangeObserver.ExchangeRecord r;
            if (o.keepsRecords()) {
                r = observed = new ExchangeObserver.ExchangeRecord();
            } else {
                r = SCRATCH.get();
            }
            record(r, finalStatus, o.recordsRequests());
            o.exchangeEnded(r);
        }
    }

    /**
     * The record the observer got at the end; null before, when nothing observes, or when the
     * observer keeps no records (it was reused).
     */
    ExchangeObserver.ExchangeRecord observed() {
        return observed;
    }

    /** Fills {@code r} with what the observer (metrics, access log) is told, ending with {@code finalStatus}. */
    private void record(ExchangeObserver.ExchangeRecord r, int finalStatus, boolean details) {
        long end = clock.nanos();
        DesyncClass desync = null;
        String reason = null;
        if (request instanceof DecodedRequest d) {
            desync = d.desyncClass();
            reason = desync == DesyncClass.COMPLIANT ? null : d.desyncReason();
        }
        r.set(client.listener().settings().name(), client.remote(), group == null ? null : group.name(),
                target == null || sentNanos == 0 ? null : target.id(), request.method().name(), request.uri(),
                protocol, details ? request.headers().get(HttpHeaderNames.USER_AGENT) : null,
                details ? request.headers().get(X_REQUEST_ID) : null,
                clock.millis() - (end - startNanos) / 1_000_000, startNanos, sentNanos, responseNanos, end,
                finalStatus, targetStatus,
                bytesReceived, bytesSent, attempts, desync, details ? client.connection() : null,
                details ? request.headers().get(HttpHeaderNames.HOST) : null, route, reason);
    }

    /** Whether running the request twice is harmless (RFC 9110 9.2.2), so it may be replayed. */
    private boolean idempotent() {
        HttpMethod m = request.method();
        return m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS || m == HttpMethod.PUT
               || m == HttpMethod.DELETE || m == HttpMethod.TRACE;
    }

    /** Says why a connect failed in the words health checks use ("connection refused", "timeout after 5s"). */
    private static String connectFailure(Throwable cause, Duration timeout) {
        if (cause instanceof io.netty.channel.ConnectTimeoutException) {
            return "timeout after " + timeout.toMillis() + "ms";
        }
        if (cause instanceof ConnectException) {
            return "connection refused";
        }
        return cause == null ? "connect failed" : cause.getClass().getSimpleName() + ": " + cause.getMessage();
    }
}
