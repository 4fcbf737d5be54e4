package fulcrum.health;

import fulcrum.config.StatusMatcher;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.time.Duration;

/**
 * Sends {@code GET path} with {@code Connection: close} and judges the status line; the body is
 * never read (the connection closes once the status is known, and what was decoded is released).
 */
final class HttpProbeHandler extends ProbeHandler {
    private final String path;
    private final String host;
    private final StatusMatcher matcher;

    HttpProbeHandler(Promise<ProbeResult> result, String path, String host, StatusMatcher matcher,
                     Duration timeout) {
        super(result, timeout);
        this.path = path;
        this.host = host;
        this.matcher = matcher;
    }

    @Override
    Future<?> request(ChannelHandlerContext ctx) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, path,
                                                         Unpooled.EMPTY_BUFFER);
        req.headers()
           .set(HttpHeaderNames.HOST, host)
           .set(HttpHeaderNames.USER_AGENT, USER_AGENT)
           .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return ctx.writeAndFlush(req);
    }

    @Override
    void read(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HttpResponse res)) {
            return;
        }
        if (res.decoderResult().isFailure()) {
            done(ProbeResult.failed("invalid response: " + res.decoderResult().cause().getMessage()));
            return;
        }
        int code = res.status().code();
        if (code >= 100 && code < 200) {
            return; // informational: the real status follows
        }
        done(ProbeResult.status(code, matcher));
    }
}
