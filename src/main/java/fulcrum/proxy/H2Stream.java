package fulcrum.proxy;

import fulcrum.http.BackendResponse;
import fulcrum.http.RequestLimits;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
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
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Map;

/**
 * One HTTP/2 stream of a client connection: its own child channel (Netty's
 * {@code Http2MultiplexHandler}, on the connection's event loop) and the client end of one
 * {@link Exchange}, as {@link FrontendHandler} is for an HTTP/1.1 request. It turns the stream's
 * HEADERS and DATA into the request and body pieces an HTTP/1.1 target takes (Host from
 * {@code :authority}, split {@code cookie} fields joined, a body without Content-Length sent
 * chunked), and the exchange's response into HEADERS, DATA and trailers.
 *
 * <p>Flow control is the backpressure: while the target cannot take more body, the stream is not
 * read, so its window stays closed; while the stream cannot take more response (its window or
 * the connection is full), the target is not read.
 */
final class H2Stream extends ChannelInboundHandlerAdapter implements ClientStream {
    private static final Logger log = LoggerFactory.getLogger(H2Stream.class);
    /** What the access log and metrics call a request that came as an HTTP/2 stream. */
    static final HttpVersion HTTP_2 = new HttpVersion("HTTP", 2, 0, true);
    private static final AsciiString STATUS = Http2Headers.PseudoHeaderName.STATUS.value();

    private final FrontendHandler connection;
    private final ListenerContext listener;
    private ChannelHandlerContext ctx;
    private Exchange ex;
    /** Body pieces that arrived before the exchange could take them; created on first use. */
    private ArrayDeque<Object> pending;
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
    private ResponseTimer responseTimer;

    H2Stream(FrontendHandler connection, ListenerContext listener) {
        this.connection = connection;
        this.listener = listener;
    }

    /** Waiting on the target for a response head, which only the response timeout may end. */
    boolean awaitingResponse() {
        return ex != null && ex.awaitingResponse();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.responseTimer = new ResponseTimer(ctx, () -> ex);
        connection.streamOpened(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        connection.streamClosed(this);
        responseTimer.cancel();
        releasePending();
        if (ex != null && ex.phase() != Exchange.Phase.DONE) {
            // Reset by the client, or the connection went: the exchange ends with its client.
            ex.clientClosed();
        }
        ctx.fireChannelInactive();
    }

    /**
     * The client reset the stream. A stream not being read (its target cannot take more) would
     * only close once read again (Netty's child channels deliver what they hold first), so it is
     * closed now: what it holds is released and the exchange ends with its client.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame) {
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] stream error: {}", ctx.channel().id(), cause.toString());
        ctx.close();
    }

    // ---- reading the request ----

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        inRead = true;
        try {
            read(msg);
        } finally {
            inRead = false;
        }
    }

    private void read(Object msg) {
        if (msg instanceof Http2HeadersFrame hf) {
            connection.touch();
            if (!headRead) {
                headRead = true;
                requestHead(hf);
            } else if (ex == null) {
                requestEnded |= hf.isEndStream(); // trailers of a request refused at its head
            } else {
                // Trailers end the body (a second HEADERS without END_STREAM is refused by the codec).
                requestEnded = true;
                DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
                translate(hf.headers(), last.trailingHeaders());
                body(last);
            }
            return;
        }
        if (msg instanceof Http2DataFrame df) {
            connection.touch();
            if (ex == null) {
                df.release();
                return;
            }
            requestEnded |= df.isEndStream();
            bodyBytes += df.content().readableBytes();
            long max = listener.settings().limits().maxBodySize();
            if (max > 0 && bodyBytes > max) {
                df.release();
                Exchange e = ex;
                e.abort(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
                return;
            }
            body(df.isEndStream() ? new DefaultLastHttpContent(df.content()) : new DefaultHttpContent(df.content()));
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void requestHead(Http2HeadersFrame hf) {
        requestEnded = hf.isEndStream();
        Http2Headers h = hf.headers();
        RequestLimits limits = listener.settings().limits();
        CharSequence method = h.method();
        CharSequence path = h.path();
        if (method == null || path == null || path.length() == 0) {
            // CONNECT (extended or not) is not offered; anything else without these is malformed.
            refuse(h, method != null && HttpMethod.CONNECT.asciiName().contentEquals(method)
                      ? HttpResponseStatus.METHOD_NOT_ALLOWED : HttpResponseStatus.BAD_REQUEST);
            return;
        }
        if (method.length() + path.length() + 10 > limits.maxRequestLine()) {
            refuse(h, HttpResponseStatus.REQUEST_URI_TOO_LONG);
            return;
        }
        if (h.size() > limits.maxHeaders()) {
            refuse(h, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE);
            return;
        }
        HttpRequest req = new DefaultHttpRequest(HTTP_2, HttpMethod.valueOf(method.toString()), path.toString());
        HttpHeaders headers = req.headers();
        translate(h, headers);
        CharSequence authority = h.authority();
        if (authority != null) {
            String host = headers.get(HttpHeaderNames.HOST);
            if (host == null) {
                headers.set(HttpHeaderNames.HOST, authority);
            } else if (!AsciiString.contentEqualsIgnoreCase(host, authority)) {
                refuse(h, HttpResponseStatus.BAD_REQUEST); // RFC 9113 8.3.1: they must name the same
                return;
            }
        }
        if (!hf.isEndStream() && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            // A body of unknown length: chunked for the HTTP/1.1 target (the codec checks a stated length).
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        long max = limits.maxBodySize();
        if (max > 0 && headers.contains(HttpHeaderNames.CONTENT_LENGTH)
            && HttpUtil.getContentLength(req, 0L) > max) {
            refuse(h, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
            return;
        }
        head = req.method() == HttpMethod.HEAD;
        Exchange e = new Exchange(this, req);
        ex = e;
        e.start();
        if (hf.isEndStream()) {
            body(LastHttpContent.EMPTY_LAST_CONTENT);
        }
    }

    /**
     * Copies regular fields (pseudo-headers are the request line) into HTTP/1.1 fields. Cookies
     * split over several fields, as HTTP/2 allows (RFC 9113 8.2.3), are joined into one for a
     * target that reads HTTP/1.1.
     */
    private static void translate(Http2Headers from, HttpHeaders to) {
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

    private void body(HttpContent c) {
        if ((pending != null && !pending.isEmpty()) || !ex.acceptsBody()) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(c);
            updateReading();
            return;
        }
        ex.requestContent(c);
    }

    private void drainPending() {
        Object msg;
        while (pending != null && ex != null && (msg = pending.peek()) != null && ex.acceptsBody()) {
            pending.poll();
            ex.requestContent((HttpContent) msg);
        }
        if (!inRead && ex != null) {
            ex.flushBackend();
        }
        updateReading();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (ex != null) {
            ex.flushBackend();
        }
        updateReading();
    }

    /** Reads the stream (and so lets its window open) only while its target takes the body. */
    private void updateReading() {
        boolean read = (pending == null || pending.isEmpty()) && (ex == null || ex.backendWritable());
        ctx.channel().config().setAutoRead(read);
    }

    /** A request Fulcrum answers itself before any exchange (too long, malformed): answered, counted and logged. */
    private void refuse(Http2Headers h, HttpResponseStatus status) {
        ExchangeObserver o = listener.observer();
        o.rejected(listener.settings().name(), status.code(), null);
        if (o != ExchangeObserver.NONE) {
            long now = System.nanoTime();
            o.exchangeEnded(new ExchangeObserver.ExchangeRecord(
                    listener.settings().name(), remote(), null, null, orDash(h.method()), orDash(h.path()),
                    HTTP_2.text(), text(h.get(HttpHeaderNames.USER_AGENT)), text(h.get(Exchange.X_REQUEST_ID)),
                    System.currentTimeMillis(), now, 0, 0, now, status.code(), -1, 0, 0, 0, null,
                    o.recordsRequests() ? connection() : null, text(h.authority()), null, null));
        }
        FullHttpResponse res = ErrorResponses.of(ctx.alloc(), status, false);
        write(res);
        if (!requestEnded) {
            ctx.write(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR), ctx.voidPromise());
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
        return ctx.alloc();
    }

    /** HTTP/2 frames the body itself: the fields that framed it for HTTP/1.1 go. Never closes the connection. */
    @Override
    public boolean frameResponse(Exchange e, HttpResponse res) {
        res.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        return false;
    }

    @Override
    public void write(Object msg) {
        if (responseEnded) {
            ReferenceCountUtil.release(msg);
            return;
        }
        connection.touch();
        if (msg instanceof HttpResponse res) {
            writeHead(res);
            if (msg instanceof HttpContent c) {
                // A head that ended the stream (HEAD, or an empty full response) leaves no DATA to send.
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

    private void writeHead(HttpResponse res) {
        int code = res.status().code();
        Http2Headers h = new DefaultHttp2Headers(false);
        h.status(res.status().codeAsText());
        if (res instanceof BackendResponse br) {
            br.forEachKeptField((name, value) -> h.add(name.toLowerCase(), value));
        }
        // The parsed fields: connection-specific ones go, names become lower case.
        HttpConversionUtil.toHttp2Headers(res.headers(), h);
        informational = code >= 100 && code < 200;
        boolean empty = res instanceof FullHttpResponse f && !f.content().isReadable() && f.trailingHeaders().isEmpty();
        boolean end = !informational && (empty || head);
        ctx.write(new DefaultHttp2HeadersFrame(h, end), ctx.voidPromise());
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
        H2Frames.writeBody(ctx, c, HttpConversionUtil::toHttp2Headers);
        if (last) {
            responseEnded = true;
        }
    }

    @Override
    public void flush() {
        ctx.flush();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public void touch() {
        connection.touch();
    }

    @Override
    public void requestSent(long responseTimeoutNanos) {
        responseTimer.arm(responseTimeoutNanos);
        drainPending();
    }

    @Override
    public void backendWritabilityChanged() {
        updateReading();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ex != null) {
            ex.clientWritable(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    /**
     * The exchange ended. A response cut short (its target failed mid-body) resets the stream; a
     * request body still arriving after a complete response is refused with NO_ERROR (RFC 9113
     * 8.1), so the client stops sending it.
     */
    @Override
    public void exchangeDone(Exchange e) {
        responseTimer.cancel();
        releasePending();
        if (!responseEnded) {
            responseEnded = true;
            ctx.write(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR), ctx.voidPromise());
        } else if (!requestEnded) {
            ctx.write(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR), ctx.voidPromise());
        }
        ctx.flush();
        // Read again: frames held while the target was slow are dropped, and a closed stream closes.
        updateReading();
    }

    @Override
    public void startTunnel(Exchange e, BackendHandler backend) {
        // HTTP/2 requests cannot carry Upgrade (the codec refuses the field), so no 101 is asked for.
        backend.close();
        ctx.close();
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
}
