package fulcrum.health;

import fulcrum.Main;
import fulcrum.config.StatusMatcher;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;

import java.time.Duration;

/**
 * Sends {@code GET path} with {@code Connection: close} and judges the status line; the body is
 * never read (the connection closes once the status is known, and what was decoded is released).
 */
final class HttpProbeHandler extends ChannelInboundHandlerAdapter {
    static final String USER_AGENT = "Fulcrum-HealthChecker/" + Main.version();

    private final Promise<ProbeResult> result;
    private final String path;
    private final String host;
    private final StatusMatcher matcher;
    private final Duration timeout;

    HttpProbeHandler(Promise<ProbeResult> result, String path, String host, StatusMatcher matcher,
                     Duration timeout) {
        this.result = result;
        this.path = path;
        this.host = host;
        this.matcher = matcher;
        this.timeout = timeout;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path,
                                                         Unpooled.EMPTY_BUFFER);
        req.headers()
           .set(HttpHeaderNames.HOST, host)
           .set(HttpHeaderNames.USER_AGENT, USER_AGENT)
           .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(req).addListener(f -> {
            if (!f.isSuccess()) {
                result.trySuccess(ProbeResult.of(f.cause(), timeout));
            }
        });
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!(msg instanceof HttpResponse res) || result.isDone()) {
                return;
            }
            if (res.decoderResult().isFailure()) {
                result.trySuccess(ProbeResult.failed("invalid response: " + res.decoderResult().cause().getMessage()));
                return;
            }
            int code = res.status().code();
            if (code >= 100 && code < 200) {
                return; // informational: the real status follows
            }
            result.trySuccess(ProbeResult.status(code, matcher));
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        result.trySuccess(ProbeResult.failed("connection closed before a status"));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        result.trySuccess(ProbeResult.of(cause, timeout));
        ctx.close();
    }
}
