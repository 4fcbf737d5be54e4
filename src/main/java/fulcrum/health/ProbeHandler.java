package fulcrum.health;

import fulcrum.Main;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.time.Duration;

/**
 * What every HTTP probe (HTTP/1.1, HTTP/2, gRPC) does alike: send its request once connected,
 * release what it reads, and turn a failed write, an error or an early close into the check's
 * result. The first result wins; {@link Probe} closes the connection once there is one.
 */
abstract class ProbeHandler extends ChannelInboundHandlerAdapter {
    static final String USER_AGENT = "Fulcrum-HealthChecker/" + Main.version();

    private final Promise<ProbeResult> result;
    private final Duration timeout;

    ProbeHandler(Promise<ProbeResult> result, Duration timeout) {
        this.result = result;
        this.timeout = timeout;
    }

    /** Writes and flushes the request (or opens the stream it goes on); a failure is the result. */
    abstract Future<?> request(ChannelHandlerContext ctx);

    /** Reads one message of the answer; it is released afterwards. Called until there is a result. */
    abstract void read(ChannelHandlerContext ctx, Object msg);

    final void done(ProbeResult r) {
        result.trySuccess(r);
    }

    @Override
    public final void channelActive(ChannelHandlerContext ctx) {
        request(ctx).addListener(f -> {
            if (!f.isSuccess()) {
                done(ProbeResult.of(f.cause(), timeout));
            }
        });
        ctx.fireChannelActive();
    }

    @Override
    public final void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!result.isDone()) {
                read(ctx, msg);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public final void channelInactive(ChannelHandlerContext ctx) {
        done(ProbeResult.failed("connection closed before a status"));
        ctx.fireChannelInactive();
    }

    @Override
    public final void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        done(ProbeResult.of(cause, timeout));
        ctx.close();
    }
}
