package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.http.FlatHeaders;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Iterator;
import java.util.Map;

/**
 * One request as a stream of an {@link H2BackendConnection}: a child channel of the connection
 * (Netty's {@code Http2MultiplexHandler}) and the {@link BackendStream} of one {@link Exchange}. It
 * turns the request into HEADERS, DATA and trailers, and the target's HEADERS, DATA and trailers
 * back into the HTTP/1.1 messages the exchange reads; HEADERS that end the stream (gRPC's
 * trailers-only answer) become one full response.
 *
 * <p>Flow control is the backpressure: while the client cannot take more, the child channel is
 * not read, so the stream's window is not reopened and the target stops sending; its writability
 * (the target's window for it) stops the client being read.
 */
final class H2BackendStream extends ChannelInboundHandlerAdapter implements BackendStream, H2Frames.Sink {
    private static final Logger log = LoggerFactory.getLogger(H2BackendStream.class);
    private static final AsciiString HTTP = AsciiString.cached("http");
    private static final AsciiString TRAILERS = AsciiString.cached("trailers");

    private final Target target;
    private H2BackendConnection connection;
    private ChannelHandlerContext ctx;
    private Exchange owner;
    /** The request's HEADERS, held until it is known whether a body follows (none: END_STREAM on them). */
    private Http2Headers heldHead;
    private boolean finalHead;
    /** The target did not process the stream (REFUSED_STREAM, or above its GOAWAY's last stream id). */
    private boolean refused;
    /** Counted by its connection as one of its streams, until closed. */
    private boolean counted = true;

    H2BackendStream(Target target) {
        this.target = target;
    }

    void connection(H2BackendConnection c) {
        this.connection = c;
    }

    @Override
    public Target target() {
        return target;
    }

    @Override
    public void lease(Exchange exchange) {
        this.owner = exchange;
    }

    @Override
    public void send(Object msg) {
        if (msg instanceof HttpRequest req) {
            heldHead = requestHeaders(req); // the exchange keeps its head (records, a retry)
            return;
        }
        if (!(msg instanceof HttpContent c)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        boolean last = c instanceof LastHttpContent;
        HttpHeaders trailers = last ? ((LastHttpContent) c).trailingHeaders() : null;
        boolean withTrailers = trailers != null && !trailers.isEmpty();
        if (heldHead != null) {
            boolean bodiless = last && !c.content().isReadable() && !withTrailers;
            writeHead(bodiless);
            if (bodiless) {
                c.release();
                return;
            }
        }
        H2Frames.writeBody(this, c, H2BackendStream::fields);
    }

    /** The request's DATA, on this stream's child channel. */
    @Override
    public void data(ByteBuf content, boolean endStream) {
        ctx.write(new DefaultHttp2DataFrame(content, endStream), ctx.voidPromise());
    }

    /** The request's trailers, ending the stream. */
    @Override
    public void trailers(Http2Headers trailers) {
        ctx.write(new DefaultHttp2HeadersFrame(trailers, true), ctx.voidPromise());
    }

    private void writeHead(boolean endStream) {
        Http2Headers h = heldHead;
        heldHead = null;
        ctx.write(new DefaultHttp2HeadersFrame(h, endStream)).addListener(f -> {
            if (!f.isSuccess()) {
                // No stream could be made (the target's GOAWAY came first): nothing reached it.
                log.debug("[{}] stream to {} not opened: {}", ctx.channel().id(), target, f.cause().toString());
                refused = true;
                ctx.close();
            }
        });
    }

    @Override
    public void flush() {
        if (heldHead != null) {
            writeHead(false);
        }
        ctx.flush();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public void readable(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }

    /** The stream has ended both ways, or is reset now (CANCEL): either way the connection goes on. */
    @Override
    public void release(int maxIdle) {
        close();
    }

    @Override
    public void close() {
        owner = null;
        if (ctx != null) {
            // The stream ends now (RST_STREAM unless both sides ended it); Netty tells the pipeline
            // later, in a task of its own, too late to count under load.
            ctx.close();
            uncount();
        }
    }

    private void uncount() {
        if (counted) {
            counted = false;
            connection.streamClosed();
        }
    }

    /**
     * The request line and fields as HTTP/2 wants them: pseudo-headers first, names in lower
     * case, connection-specific fields gone (RFC 9113 8.2.2), Host as {@code :authority}, and
     * {@code te: trailers}, which gRPC servers require and which says trailers are passed on.
     */
    private Http2Headers requestHeaders(HttpRequest req) {
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method(req.method().asciiName());
        h.scheme(HTTP);
        String host = req.headers().get(HttpHeaderNames.HOST);
        h.authority(host != null ? host : target.toString());
        h.path(path(req.uri()));
        fields(req.headers(), h);
        h.set(HttpHeaderNames.TE, TRAILERS);
        return h;
    }

    /** The path of an origin-form target, or of an absolute-form one ({@code *} stays). */
    private static String path(String uri) {
        int scheme = uri.indexOf("://");
        if (scheme < 0 || uri.startsWith("/")) {
            return uri.isEmpty() ? "/" : uri;
        }
        int slash = uri.indexOf('/', scheme + 3);
        return slash < 0 ? "/" : uri.substring(slash);
    }

    private static void fields(HttpHeaders from, Http2Headers to) {
        Iterator<Map.Entry<CharSequence, CharSequence>> it = from.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> f = it.next();
            AsciiString name = AsciiString.of(f.getKey()).toLowerCase();
            if (name.contentEquals(HttpHeaderNames.HOST) || name.contentEquals(HttpHeaderNames.CONNECTION)
                || name.contentEquals(HttpHeaderNames.KEEP_ALIVE) || name.contentEquals("proxy-connection")
                || name.contentEquals(HttpHeaderNames.TRANSFER_ENCODING) || name.contentEquals(HttpHeaderNames.UPGRADE)
                || name.contentEquals(HttpHeaderNames.TE)) {
                continue;
            }
            to.add(name, f.getValue());
        }
    }

    // ---- the target's answer ----

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange o = owner;
        if (o == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof Http2HeadersFrame hf) {
            if (finalHead) {
                // Trailers (the codec refuses HEADERS in the middle of a body).
                LastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
                copy(hf.headers(), last.trailingHeaders());
                o.backendRead(this, last);
                return;
            }
            responseHead(o, hf);
            return;
        }
        if (msg instanceof Http2DataFrame df) {
            o.backendRead(this, df.isEndStream() ? new DefaultLastHttpContent(df.content())
                                                 : new DefaultHttpContent(df.content()));
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    private void responseHead(Exchange o, Http2HeadersFrame hf) {
        int code = status(hf.headers().status());
        if (code < 100 || code == 101) {
            // 101 is not HTTP/2 (RFC 9113 8.6); no status is no response.
            HttpResponse bad = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY);
            bad.setDecoderResult(DecoderResult.failure(new IllegalStateException("bad :status " + hf.headers().status())));
            o.backendRead(this, bad);
            return;
        }
        HttpHeaders h = new FlatHeaders(hf.headers().size());
        copy(hf.headers(), h);
        HttpResponseStatus status = HttpResponseStatus.valueOf(code);
        if (code < 200) {
            o.backendRead(this, new DefaultHttpResponse(HttpVersion.HTTP_1_1, status, h));
            o.backendRead(this, LastHttpContent.EMPTY_LAST_CONTENT);
            return;
        }
        finalHead = true;
        if (hf.isEndStream()) {
            o.backendRead(this, new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.EMPTY_BUFFER, h,
                                                            EmptyHttpHeaders.INSTANCE));
            return;
        }
        if (!h.contains(HttpHeaderNames.CONTENT_LENGTH) && code != 204 && code != 304) {
            // The end is the stream's: said in HTTP/1.1 terms, so the exchange knows it is framed.
            h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        o.backendRead(this, new DefaultHttpResponse(HttpVersion.HTTP_1_1, status, h));
    }

    private static int status(CharSequence s) {
        if (s == null || s.length() != 3) {
            return -1;
        }
        int n = 0;
        for (int i = 0; i < 3; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    private static void copy(Http2Headers from, HttpHeaders to) {
        for (Map.Entry<CharSequence, CharSequence> f : from) {
            CharSequence name = f.getKey();
            if (name.length() > 0 && name.charAt(0) != ':') {
                to.add(name, f.getValue());
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (owner != null) {
            owner.backendReadComplete(this);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame r) {
            refused |= r.errorCode() == Http2Error.REFUSED_STREAM.code();
            log.debug("[{}] {} reset the stream: {}", ctx.channel().id(), target, r.errorCode());
        } else if (evt instanceof Http2GoAwayFrame) {
            refused = true; // above the GOAWAY's last stream id: never processed
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (owner != null) {
            owner.backendWritabilityChanged(this);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        uncount();
        Exchange o = owner;
        owner = null;
        if (o != null) {
            if (refused) {
                o.backendRefused(this);
            } else {
                o.backendClosed(this);
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] stream to {}: {}", ctx.channel().id(), target, cause.toString());
        ctx.close();
    }
}
