package fulcrum.proxy;

import fulcrum.http.BackendResponse;
import fulcrum.http.FlatHeaders;
import fulcrum.http.RequestLimits;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One HTTP/2 stream of a client connection ({@link H2Connection} hands it the stream's frames)
 * and the client end of one {@link Exchange}, as {@link FrontendHandler} is for an HTTP/1.1
 * request. It turns the stream's
 * HEADERS and DATA into the request and body pieces an HTTP/1.1 target takes (Host from
 * {@code :authority}, split {@code cookie} fields joined, a body without Content-Length sent
 * chunked), and the exchange's response into HEADERS, DATA and trailers.
 *
 * <p>Flow control is the backpressure: DATA the target cannot take yet is held and its bytes are
 * given back to the stream's window only as the target takes them, so the client can send no more
 * than the window; while the stream cannot take more response (its window or the connection is
 * full), the target is not read.
 *
 * <p>A WebSocket over HTTP/2 (RFC 8441: {@code CONNECT} with {@code :protocol websocket}) goes to
 * the target as an HTTP/1.1 {@code GET} with {@code Upgrade: websocket}; the target's 101 is
 * answered {@code 200}, and the stream then becomes the client end of a {@link Tunnel}, its DATA
 * frames carrying the WebSocket's bytes both ways.
 */
final class H2Stream implements ClientStream, Tunnel.ClientEnd, H2Frames.Sink {
    private static final Logger log = LoggerFactory.getLogger(H2Stream.class);
    /** What the access log and metrics call a request that came as an HTTP/2 stream. */
    static final HttpVersion HTTP_2 = new HttpVersion("HTTP", 2, 0, true);
    private static final AsciiString STATUS = Http2Headers.PseudoHeaderName.STATUS.value();
    private static final AsciiString PROTOCOL = Http2Headers.PseudoHeaderName.PROTOCOL.value();
    private static final String WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private final H2Connection h2;
    private final Http2Stream stream;
    private final FrontendHandler connection;
    private final ListenerContext listener;
    private Exchange ex;
    /** Body pieces that arrived before the exchange could take them; created on first use. */
    private ArrayDeque<Object> pending;
    /** Frames of this stream came in the connection's current read. */
    private boolean readMarked;
    /** The tunnel's backend takes the WebSocket's bytes: they are passed on as they come. */
    private boolean tunnelReadable = true;
    /** The stream closed (both ends, a reset, or the connection went). */
    private boolean closed;
    /** The client's END_STREAM of a WebSocket went on to its tunnel. */
    private boolean clientEndPassed;
    private long bodyBytes;
    private boolean head;
    /** Between a 1xx head and its (empty) end, which HTTP/2 does not send. */
    private boolean informational;
    /** The request's head arrived (and became an exchange, or was refused). */
    private boolean headRead;
    /** The request's END_STREAM arrived. */
    private boolean requestEnded;
    /** The response's END_STREAM went out. */
    private boolean responseEnded;
    private boolean inRead;
    /** An extended CONNECT for a WebSocket (RFC 8441): its 101 makes the stream a tunnel. */
    private boolean webSocket;
    /** The Sec-WebSocket-Key Fulcrum sent the target for it; null when none. */
    private String webSocketKey;
    /** The target's 101 did not answer that key: answered 502, and no tunnel opens. */
    private boolean switchRefused;
    /** WebSocket bytes the client sent before the target switched, or while its target could not take them; created on first use. */
    private ArrayDeque<ByteBuf> early;
    /** After the switch: the stream carries the WebSocket; null before. */
    private Tunnel tunnel;
    /** Tunnel traffic since the idle sweep last looked, and when it last saw some. */
    private boolean tunnelActive;
    private long tunnelLastActivity;

    H2Stream(H2Connection h2, Http2Stream stream, FrontendHandler connection, ListenerContext listener) {
        this.h2 = h2;
        this.stream = stream;
        this.connection = connection;
        this.listener = listener;
    }

    /** Waiting on the target for a response head, which only the response timeout may end. */
    boolean awaitingResponse() {
        return ex != null && ex.awaitingResponse();
    }

    /** The stream closed: the client reset it, both ends ended, or the connection went. */
    void closed() {
        closed = true;
        connection.streamClosed(this);
        releasePending();
        if (tunnel != null) {
            connection.tunnelStreams(-1);
            tunnel.clientClosed(); // reset by the client, or the connection went
        } else if (ex != null && ex.phase() != Exchange.Phase.DONE) {
            // Reset by the client, or the connection went: the exchange ends with its client.
            ex.clientClosed();
        }
    }

    // ---- reading the request ----

    Http2Stream stream() {
        return stream;
    }

    /** The first frame of this stream in the connection's current read: true once per read. */
    boolean markRead() {
        if (readMarked) {
            return false;
        }
        readMarked = true;
        return true;
    }

    void headersRead(Http2Headers headers, boolean endStream) {
        inRead = true;
        try {
            connection.touch();
            if (tunnel != null) {
                if (endStream) {
                    requestEnded = true;
                    clientEnded();
                }
            } else if (!headRead) {
                headRead = true;
                requestHead(headers, endStream);
            } else if (ex == null || webSocket) {
                requestEnded |= endStream; // trailers of a request refused at its head
            } else {
                // Trailers end the body (a second HEADERS without END_STREAM is refused by the codec).
                requestEnded = true;
                DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
                if (translate(headers, last.trailingHeaders())) {
                    body(last, 0);
                } else {
                    h2.reset(stream, Http2Error.PROTOCOL_ERROR); // malformed trailers: the exchange ends with the stream
                    h2.flush();
                }
            }
        } finally {
            inRead = false;
        }
    }

    /**
     * A DATA frame's bytes (the caller releases {@code data}). Returns how many of them were taken
     * now; the rest are held, and given back to the window as the target takes them.
     */
    int dataRead(ByteBuf data, boolean endStream) {
        inRead = true;
        try {
            connection.touch();
            int n = data.readableBytes();
            if (tunnel != null) {
                int taken = 0;
                if (n > 0) {
                    if (tunnelReadable && (early == null || early.isEmpty())) {
                        tunnel.fromClient(data.retain());
                        taken = n;
                    } else {
                        holdEarly(data.retain());
                    }
                }
                if (endStream) {
                    requestEnded = true;
                    if (early == null || early.isEmpty()) {
                        clientEnded();
                    }
                }
                return taken;
            }
            if (ex == null) {
                return n;
            }
            requestEnded |= endStream;
            if (webSocket) {
                if (n > 0) {
                    holdEarly(data.retain());
                }
                return 0;
            }
            bodyBytes += n;
            long max = listener.settings().limits().maxBodySize();
            if (max > 0 && bodyBytes > max) {
                Exchange e = ex;
                e.abort(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
                return n;
            }
            ByteBuf content = data.retain();
            return body(endStream ? new DefaultLastHttpContent(content) : new DefaultHttpContent(content), n);
        } finally {
            inRead = false;
        }
    }

    private void requestHead(Http2Headers h, boolean endStream) {
        requestEnded = endStream;
        RequestLimits limits = listener.settings().limits();
        CharSequence method = h.method();
        CharSequence path = h.path();
        boolean connect = method != null && HttpMethod.CONNECT.asciiName().contentEquals(method);
        CharSequence protocol = h.get(PROTOCOL);
        if (protocol != null) {
            // RFC 8441 4: only with CONNECT, with :scheme and :path, and only once the setting was
            // advertised; otherwise the request is malformed (RFC 9113 8.1.1).
            if (!connect || path == null || path.length() == 0 || h.scheme() == null
                || !listener.settings().http2().websocket()) {
                refuse(h, HttpResponseStatus.BAD_REQUEST, Http2Error.PROTOCOL_ERROR);
                return;
            }
            if (!AsciiString.contentEqualsIgnoreCase(protocol, HttpHeaderValues.WEBSOCKET)) {
                refuse(h, HttpResponseStatus.NOT_IMPLEMENTED, Http2Error.NO_ERROR);
                return;
            }
            webSocket = true;
            method = HttpMethod.GET.asciiName();
        } else if (connect) {
            // A plain CONNECT asks for a tunnel to :authority: Fulcrum is not a forward proxy.
            refuse(h, HttpResponseStatus.METHOD_NOT_ALLOWED, Http2Error.NO_ERROR);
            return;
        }
        if (method == null || path == null || path.length() == 0) {
            refuse(h, HttpResponseStatus.BAD_REQUEST, Http2Error.NO_ERROR);
            return;
        }
        if (method.length() + path.length() + 10 > limits.maxRequestLine()) {
            refuse(h, HttpResponseStatus.REQUEST_URI_TOO_LONG, Http2Error.NO_ERROR);
            return;
        }
        if (h.size() > limits.maxHeaders()) {
            refuse(h, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, Http2Error.NO_ERROR);
            return;
        }
        HttpRequest req = new DefaultHttpRequest(HTTP_2, HttpMethod.valueOf(method.toString()), path.toString(),
                                                 new FlatHeaders(h.size() + 4));
        HttpHeaders headers = req.headers();
        if (!translate(h, headers)) {
            // A CR, LF, NUL or other control in a value: malformed (RFC 9113 8.2.1), and it would
            // split the HTTP/1.1 request to the target.
            refuse(h, HttpResponseStatus.BAD_REQUEST, Http2Error.PROTOCOL_ERROR);
            return;
        }
        CharSequence authority = h.authority();
        if (authority != null) {
            String host = headers.get(HttpHeaderNames.HOST);
            if (host == null) {
                headers.set(HttpHeaderNames.HOST, authority);
            } else if (!AsciiString.contentEqualsIgnoreCase(host, authority)) {
                refuse(h, HttpResponseStatus.BAD_REQUEST, Http2Error.NO_ERROR); // RFC 9113 8.3.1: they must name the same
                return;
            }
        }
        if (webSocket) {
            asUpgrade(headers);
        } else if (!endStream && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // A body of unknown length: chunked for the HTTP/1.1 target (the codec checks a stated length).
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        long max = limits.maxBodySize();
        if (max > 0 && headers.contains(HttpHeaderNames.CONTENT_LENGTH)
            && HttpUtil.getContentLength(req, 0L) > max) {
            refuse(h, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Http2Error.NO_ERROR);
            return;
        }
        head = req.method() == HttpMethod.HEAD;
        Exchange e = new Exchange(this, req);
        ex = e;
        e.start();
        if (endStream || webSocket) {
            // A WebSocket's request has no body: its DATA is the WebSocket's, once switched.
            body(LastHttpContent.EMPTY_LAST_CONTENT, 0);
        }
    }

    /**
     * The HTTP/1.1 form of a WebSocket's extended CONNECT (RFC 8441 5): a GET asking to switch,
     * with a key of Fulcrum's own; the version, subprotocols and extensions are the client's.
     */
    private void asUpgrade(HttpHeaders headers) {
        headers.remove(HttpHeaderNames.CONTENT_LENGTH);
        headers.set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
        headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        byte[] nonce = new byte[16];
        ThreadLocalRandom.current().nextBytes(nonce);
        webSocketKey = Base64.getEncoder().encodeToString(nonce);
        headers.set(HttpHeaderNames.SEC_WEBSOCKET_KEY, webSocketKey);
    }

    /**
     * Whether a 101's Sec-WebSocket-Accept answers Fulcrum's key (RFC 6455 4.2.2). The client
     * cannot check it (it sent no key), so Fulcrum does, as the target's WebSocket client.
     */
    private boolean acceptsKey(HttpResponse res) {
        String accept = res.headers().get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
        if (accept == null && res instanceof BackendResponse br) {
            String[] kept = new String[1];
            br.forEachKeptField((name, value) -> {
                if (HttpHeaderNames.SEC_WEBSOCKET_ACCEPT.contentEqualsIgnoreCase(name)) {
                    kept[0] = value.toString();
                }
            });
            accept = kept[0];
        }
        if (accept == null) {
            return false;
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-1").digest(
                    (webSocketKey + WEBSOCKET_GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest).equals(accept.trim());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required of every Java platform", e);
        }
    }

    /** Holds WebSocket bytes sent ahead of the switch; the stream is not read while any wait. */
    private void holdEarly(ByteBuf bytes) {
        if (early == null) {
            early = new ArrayDeque<>(2);
        }
        early.add(bytes);
    }

    /**
     * Copies regular fields (pseudo-headers are the request line) into HTTP/1.1 fields. Cookies
     * split over several fields, as HTTP/2 allows (RFC 9113 8.2.3), are joined into one for a
     * target that reads HTTP/1.1. False when a value is not a valid field value (HTTP/1.1's
     * header validation says so), which leaves {@code to} incomplete.
     */
    private static boolean translate(Http2Headers from, HttpHeaders to) {
        try {
            copyFields(from, to);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static void copyFields(Http2Headers from, HttpHeaders to) {
        StringBuilder cookie = null;
        for (Map.Entry<CharSequence, CharSequence> f : from) {
            CharSequence name = f.getKey();
            if (name.length() > 0 && name.charAt(0) == ':') {
                continue;
            }
            if (HttpHeaderNames.COOKIE.contentEqualsIgnoreCase(name)) {
                cookie = cookie == null ? new StringBuilder(f.getValue()) : cookie.append("; ").append(f.getValue());
                continue;
            }
            to.add(name, f.getValue());
        }
        if (cookie != null) {
            to.set(HttpHeaderNames.COOKIE, cookie.toString());
        }
    }

    /**
     * Passes a body piece ({@code bytes} of the stream's window) to the exchange, or holds it
     * while the exchange cannot take it. Returns the bytes taken now.
     */
    private int body(HttpContent c, int bytes) {
        if ((pending != null && !pending.isEmpty()) || !takesBody()) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(c);
            return 0;
        }
        ex.requestContent(c);
        return bytes;
    }

    private boolean takesBody() {
        return ex.acceptsBody() && ex.backendWritable();
    }

    /** Passes held body pieces on while the exchange takes them, giving their bytes back to the window. */
    private void drainPending() {
        Object msg;
        int taken = 0;
        while (pending != null && ex != null && (msg = pending.peek()) != null && takesBody()) {
            pending.poll();
            HttpContent c = (HttpContent) msg;
            taken += c.content().readableBytes();
            ex.requestContent(c);
        }
        if (!inRead && ex != null) {
            ex.flushBackend();
        }
        h2.consumed(stream, taken);
    }

    /** The connection's read that carried frames of this stream ended. */
    void readComplete() {
        readMarked = false;
        if (closed) {
            return;
        }
        if (tunnel != null) {
            tunnel.clientReadComplete();
            return;
        }
        if (ex != null) {
            ex.flushBackend();
        }
    }

    /** A request Fulcrum answers itself before any exchange (too long, malformed): answered, counted and logged. */
    private void refuse(Http2Headers h, HttpResponseStatus status, Http2Error reset) {
        ExchangeObserver o = listener.observer();
        o.rejected(listener.settings().name(), status.code(), null);
        if (o != ExchangeObserver.NONE) {
            long now = System.nanoTime();
            boolean details = o.recordsRequests();
            o.exchangeEnded(new ExchangeObserver.ExchangeRecord(
                    listener.settings().name(), remote(), null, null, orDash(h.method()), orDash(h.path()),
                    HTTP_2.text(), details ? text(h.get(HttpHeaderNames.USER_AGENT)) : null,
                    details ? text(h.get(Exchange.X_REQUEST_ID)) : null,
                    System.currentTimeMillis(), now, 0, 0, now, status.code(), -1, 0, 0, 0, null,
                    details ? connection() : null, details ? text(h.authority()) : null, null, null));
        }
        FullHttpResponse res = ErrorResponses.of(alloc(), status, false);
        write(res);
        if (!requestEnded || reset != Http2Error.NO_ERROR) {
            h2.reset(stream, reset);
        }
        flush();
    }

    private static String orDash(CharSequence s) {
        return s == null ? "-" : s.toString();
    }

    private static String text(CharSequence s) {
        return s == null ? null : s.toString();
    }

    // ---- what the exchange asks of its client ----

    @Override
    public ListenerContext listener() {
        return listener;
    }

    @Override
    public BackendPool pool() {
        return connection.pool();
    }

    /** The connection's: every stream of it shares its TLS session. */
    @Override
    public ConnectionFacts connection() {
        return connection.connection();
    }

    @Override
    public InetSocketAddress remote() {
        return connection.remote();
    }

    @Override
    public String clientText() {
        return connection.clientText();
    }

    @Override
    public ByteBufAllocator alloc() {
        return h2.context().alloc();
    }

    /** HTTP/2 frames the body itself: the fields that framed it for HTTP/1.1 go. Never closes the connection. */
    @Override
    public boolean frameResponse(Exchange e, HttpResponse res) {
        res.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        return false;
    }

    @Override
    public void write(Object msg) {
        if (responseEnded || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        connection.touch();
        if (msg instanceof HttpResponse res) {
            boolean served = res.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.SUCCESS;
            boolean badSwitch = res.status().code() == 101 && !acceptsKey(res);
            if (webSocket && (served || badSwitch)) {
                // The target served the request instead of switching, or switched without answering
                // the key: to an RFC 8441 client a 2xx would mean the WebSocket is open. What follows
                // of the target's response is dropped.
                log.debug("[{}] target answered a WebSocket upgrade with {}{}", h2.id(stream), res.status(),
                          badSwitch ? " and a wrong Sec-WebSocket-Accept" : "");
                switchRefused = badSwitch;
                ReferenceCountUtil.release(msg);
                res = ErrorResponses.of(alloc(), HttpResponseStatus.BAD_GATEWAY, false);
                msg = res;
            }
            HttpContent c = msg instanceof HttpContent hc ? hc : null;
            // A small body's first DATA may share the HEADERS' buffer (it comes next, in the same read of the target).
            writeHead(res, c != null ? c.content().readableBytes()
                                     : res.headers().getInt(HttpHeaderNames.CONTENT_LENGTH, 0));
            if (c != null) {
                // A head that ended the stream (HEAD, 204, an empty full response) leaves no DATA to send.
                if (responseEnded) {
                    c.release();
                } else {
                    writeContent(c);
                }
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            writeContent(c);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void writeHead(HttpResponse res, int dataFollows) {
        int code = res.status().code();
        // The WebSocket's switch is a CONNECT's success: 200 (RFC 8441 5).
        boolean switched = webSocket && code == 101;
        Http2Headers h = new DefaultHttp2Headers(false);
        h.status(switched ? HttpResponseStatus.OK.codeAsText() : res.status().codeAsText());
        if (res instanceof BackendResponse br) {
            br.forEachKeptField(true, h::add);
            br.doneWithHead();
        }
        // The parsed fields: connection-specific ones go, names become lower case.
        HttpConversionUtil.toHttp2Headers(res.headers(), h);
        if (switched) {
            h.remove(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT); // the answer to Fulcrum's key, not the client's
        }
        informational = !switched && code >= 100 && code < 200;
        boolean empty = res instanceof FullHttpResponse f && !f.content().isReadable() && f.trailingHeaders().isEmpty();
        // 204 and 304 never have content (RFC 9110 15.3.5, 15.4.5): their HEADERS end the stream.
        boolean end = !switched && !informational && (empty || head || code == 204 || code == 304);
        h2.writeHeaders(stream, h, end, switched || informational ? -1 : dataFollows);
        if (end) {
            responseEnded = true;
        }
    }

    private void writeContent(HttpContent c) {
        boolean last = c instanceof LastHttpContent;
        if (informational) {
            // A 1xx's end: HTTP/2 sends nothing for it.
            informational = !last;
            c.release();
            return;
        }
        H2Frames.writeBody(this, c, HttpConversionUtil::toHttp2Headers);
        if (last) {
            responseEnded = true;
        }
    }

    /** The response's DATA, through the connection's encoder. */
    @Override
    public void data(ByteBuf content, boolean endStream) {
        h2.writeDataVoid(stream, content, endStream);
    }

    /** The response's trailers, ending the stream. */
    @Override
    public void trailers(Http2Headers trailers) {
        h2.writeHeaders(stream, trailers, true);
    }

    @Override
    public void flush() {
        h2.flush();
    }

    @Override
    public boolean isWritable() {
        if (closed) {
            return false;
        }
        // HEADERS are not flow-controlled, and a client may open its window only once it sees
        // them: while nothing waits on the window, one more read of the target may be queued.
        boolean writable = h2.isWritable(stream);
        if (!writable && !waitsForWindow) {
            waitsForWindow = true;
            h2.waitsForWindow(this);
        }
        return writable;
    }

    /** Told unwritable: the connection looks again after its flushes and reads (see {@link H2Connection#waitsForWindow}). */
    private boolean waitsForWindow;

    /** Called by the connection for a stream that waits: it is told when it takes more, else it waits on. */
    void lookAgain() {
        waitsForWindow = false;
        if (isWritable()) { // else it is listed again
            writabilityChanged();
        }
    }

    @Override
    public void touch() {
        connection.touch();
        tunnelActive = true;
    }

    @Override
    public void requestSent(long responseTimeoutNanos) {
        connection.streamRequestSent(responseTimeoutNanos);
        drainPending();
    }

    /** For the connection's response timer: nanoseconds until this stream's response deadline, -1 when it waits for none. */
    long checkResponseTimeout(long now) {
        return ex == null ? -1 : ex.checkResponseTimeout(now);
    }

    @Override
    public void backendWritabilityChanged() {
        drainPending();
    }

    /** The stream's writability changed (its window, the connection's, or the socket's). */
    void writabilityChanged() {
        if (closed) {
            return;
        }
        if (tunnel != null) {
            tunnel.clientWritabilityChanged();
        } else if (ex != null) {
            ex.clientWritable(isWritable());
        }
    }

    /**
     * The exchange ended. A response cut short (its target failed mid-body) resets the stream; a
     * request body still arriving after a complete response is refused with NO_ERROR (RFC 9113
     * 8.1), so the client stops sending it.
     */
    @Override
    public void exchangeDone(Exchange e) {
        releasePending();
        if (closed) {
            return;
        }
        if (!responseEnded) {
            responseEnded = true;
            h2.reset(stream, Http2Error.INTERNAL_ERROR);
        } else if (!requestEnded) {
            h2.reset(stream, Http2Error.NO_ERROR);
        }
        flush();
    }

    /** The target switched to WebSocket: the stream's DATA frames and the backend connection carry its bytes. */
    @Override
    public void startTunnel(Exchange e, BackendHandler backend) {
        if (switchRefused) {
            backend.close();
            exchangeDone(e);
            return;
        }
        if (!webSocket) {
            // Only an extended CONNECT asks for a 101 (the codec refuses Upgrade on HTTP/2 requests).
            backend.close();
            abort();
            return;
        }
        ex = null;
        releasePending();
        tunnelLastActivity = System.nanoTime();
        Tunnel t = Tunnel.start(e, backend, this, listener, remote());
        tunnel = t;
        connection.tunnelStreams(1);
        passEarly();
    }

    /** WebSocket bytes held for the target go to it while it takes them; a client's END_STREAM then follows them. */
    private void passEarly() {
        ByteBuf b;
        int taken = 0;
        while (tunnelReadable && early != null && (b = early.poll()) != null) {
            taken += b.readableBytes();
            tunnel.fromClient(b);
        }
        tunnel.clientReadComplete();
        h2.consumed(stream, taken);
        if (requestEnded && (early == null || early.isEmpty())) {
            clientEnded();
        }
    }

    /** The client ended its side of the WebSocket (as a TCP FIN would): the target is closed and the stream ended. */
    private void clientEnded() {
        if (clientEndPassed) {
            return;
        }
        clientEndPassed = true;
        tunnel.clientReadComplete();
        tunnel.clientClosed();
        end();
    }

    /** Closes a tunnel that carried nothing for the listener's idle timeout (called by the connection's idle sweep). */
    void checkIdle(long now, long idleTimeoutNanos) {
        if (tunnel == null) {
            return;
        }
        if (tunnelActive) {
            tunnelActive = false;
            tunnelLastActivity = now;
        } else if (now - tunnelLastActivity >= idleTimeoutNanos) {
            tunnel.closeBoth();
        }
    }

    /** Shutdown grace over: a WebSocket is told "going away" where its frames allow. */
    void goingAway() {
        if (tunnel != null) {
            tunnel.goingAway();
        }
    }

    // ---- the client end of a tunnel ----

    @Override
    public void send(ByteBuf bytes) {
        if (responseEnded) {
            bytes.release();
            return;
        }
        // A small piece that waits on flow control would hold its whole read buffer meanwhile.
        h2.writeDataVoid(stream, QueuedPieces.compact(h2.context().channel(), bytes, h2.dataWaits(stream)), false);
    }

    @Override
    public void readable(boolean on) {
        boolean was = tunnelReadable;
        tunnelReadable = on;
        if (on && !was && tunnel != null) {
            passEarly();
        }
    }

    @Override
    public boolean isActive() {
        return !closed && !responseEnded;
    }

    /**
     * END_STREAM once what was sent before it has gone; a client that has not ended its side is
     * then told to stop with RST_STREAM NO_ERROR, so the stream does not linger half-closed.
     */
    @Override
    public void end() {
        if (responseEnded) {
            return;
        }
        responseEnded = true;
        if (closed) {
            return;
        }
        ChannelFuture f = h2.writeData(stream, Unpooled.EMPTY_BUFFER, true);
        if (!requestEnded) {
            f.addListener((ChannelFuture done) -> {
                if (done.isSuccess() && !requestEnded && !closed) {
                    h2.reset(stream, Http2Error.NO_ERROR);
                    h2.flush();
                }
            });
        }
        h2.flush();
    }

    /** Resets the stream (CANCEL) now. */
    @Override
    public void abort() {
        responseEnded = true;
        if (!closed) {
            h2.reset(stream, Http2Error.CANCEL);
            h2.flush();
        }
    }

    private void releasePending() {
        Object msg;
        while (pending != null && (msg = pending.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
        while (early != null && (msg = early.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
    }
}
