package fulcrum.health;

import fulcrum.config.HealthCheckSettings;
import fulcrum.config.TargetGroupSettings.ProtocolVersion;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

/**
 * The one stream of an HTTP/2 probe, a child channel of a fresh h2c connection (built by
 * {@code proxy/H2cClient}, as the proxy's own). For an http2 group: {@code GET path}, judged by
 * {@code :status} like the HTTP/1.1 probe. For a grpc group: a unary gRPC call to {@code path},
 * judged by its grpc-status (in the trailers, or in the only HEADERS of a trailers-only answer)
 * and, on the standard health service's path, by the serving status of the HealthCheckResponse.
 */
final class H2ProbeHandler extends ProbeHandler {
    private static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
    private static final AsciiString GRPC_TIMEOUT = AsciiString.cached("grpc-timeout");
    private static final AsciiString APPLICATION_GRPC = AsciiString.cached("application/grpc");

    private final HealthCheckSettings hc;
    private final String authority;
    private final boolean grpc;
    /** The final (non-1xx) :status, or -1 before it. */
    private int status = -1;
    /** When the request went with its grpc-timeout (gRPC only). */
    private long sentNanos;
    /** What the health service answered (standard health check only), released in handlerRemoved. */
    private ByteBuf answer;

    H2ProbeHandler(Promise<ProbeResult> result, HealthCheckSettings hc, String authority) {
        super(result, hc.timeout());
        this.hc = hc;
        this.authority = authority;
        this.grpc = hc.version() == ProtocolVersion.GRPC;
    }

    /** The connection's handler: opens the stream once the preface is out; its own frames decide nothing. */
    static final class Connection extends ProbeHandler {
        private final H2ProbeHandler stream;

        Connection(Promise<ProbeResult> result, H2ProbeHandler stream) {
            super(result, stream.hc.timeout());
            this.stream = stream;
        }

        @Override
        Future<?> request(ChannelHandlerContext ctx) {
            return new Http2StreamChannelBootstrap(ctx.channel()).handler(stream).open();
        }

        @Override
        void read(ChannelHandlerContext ctx, Object msg) {
            // SETTINGS, PING acks, GOAWAY: a stream it ends closes the stream's channel, which says so
        }
    }

    @Override
    Future<?> request(ChannelHandlerContext ctx) {
        Http2Headers h = new DefaultHttp2Headers()
                .method((grpc ? HttpMethod.POST : HttpMethod.GET).asciiName())
                .scheme("http")
                .authority(authority)
                .path(hc.path());
        h.set(HttpHeaderNames.USER_AGENT, USER_AGENT);
        if (!grpc) {
            return ctx.writeAndFlush(new DefaultHttp2HeadersFrame(h, true));
        }
        h.set(HttpHeaderNames.CONTENT_TYPE, APPLICATION_GRPC)
         .set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS)
         // So that the target gives up on the call when the probe does (at most 8 digits).
         .set(GRPC_TIMEOUT, Math.min(hc.timeout().toMillis(), 99_999_999L) + "m");
        sentNanos = System.nanoTime();
        ctx.write(new DefaultHttp2HeadersFrame(h, false));
        if (hc.grpcHealthService()) {
            answer = ctx.alloc().buffer(64);
        }
        return ctx.writeAndFlush(new DefaultHttp2DataFrame(GrpcHealth.request(ctx.alloc(), hc.grpcService()), true));
    }

    @Override
    void read(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2HeadersFrame f) {
            headers(f.headers(), f.isEndStream());
        } else if (msg instanceof Http2DataFrame f) {
            data(f);
        }
    }

    /** A reset comes as an event, ahead of the stream's channel closing. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame f) {
            Http2Error e = Http2Error.valueOf(f.errorCode());
            if (grpc && e == Http2Error.CANCEL && System.nanoTime() - sentNanos >= hc.timeout().toNanos()) {
                // The target ending the call at the deadline it was sent (its clock started later than
                // ours, so this is never early): the probe's own timeout, which it can beat by a hair.
                done(ProbeResult.timeout(hc.timeout()));
            } else {
                done(ProbeResult.failed("stream reset: " + (e == null ? "error " + f.errorCode() : e.name())));
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void headers(Http2Headers h, boolean endStream) {
        if (status < 0) {
            int code;
            try {
                code = Integer.parseInt(String.valueOf(h.status()));
            } catch (NumberFormatException e) {
                done(ProbeResult.failed("invalid :status " + h.status()));
                return;
            }
            if (code >= 100 && code < 200) {
                return; // informational: the real status follows
            }
            status = code;
            if (!grpc) {
                done(ProbeResult.status(code, hc.matcher()));
                return;
            }
            if (code != 200) {
                done(ProbeResult.failed("status " + code + ", not a gRPC answer"));
                return;
            }
        }
        CharSequence grpcStatus = h.get(GRPC_STATUS);
        if (grpcStatus != null) {
            done(GrpcHealth.judge(grpcStatus, hc.matcher(), answer));
        } else if (endStream) {
            done(ProbeResult.failed("no grpc-status"));
        }
    }

    private void data(Http2DataFrame f) {
        if (answer != null) {
            if (answer.readableBytes() + f.content().readableBytes() > GrpcHealth.MAX_ANSWER) {
                done(ProbeResult.failed("answer over " + GrpcHealth.MAX_ANSWER + " bytes, not a HealthCheckResponse"));
                return;
            }
            answer.writeBytes(f.content());
        }
        if (f.isEndStream()) {
            done(ProbeResult.failed("no grpc-status"));
        }
        // The stream's window reopens as its channel reads, so a large answer reaches its trailers.
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (answer != null) {
            answer.release();
            answer = null;
        }
    }
}
