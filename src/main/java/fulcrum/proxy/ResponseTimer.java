package fulcrum.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A client stream's one response timer: armed when a request reaches its target, it asks the
 * exchange then waiting whether its deadline passed, and sleeps again for what is left of it. One
 * timer per stream rather than one per exchange, so a keep-alive connection schedules no task per
 * request while its responses come in time.
 */
final class ResponseTimer {
    private final ChannelHandlerContext ctx;
    /** The exchange to check, or null when there is none (or the stream is closing). */
    private final Supplier<Exchange> waiting;
    private ScheduledFuture<?> timer;

    ResponseTimer(ChannelHandlerContext ctx, Supplier<Exchange> waiting) {
        this.ctx = ctx;
        this.waiting = waiting;
    }

    /**
     * Fires in {@code nanos} unless already armed to fire sooner (the armed one checks the current
     * exchange); a shorter deadline (a gRPC client's) moves it earlier.
     */
    void arm(long nanos) {
        if (timer != null && timer.getDelay(TimeUnit.NANOSECONDS) <= nanos) {
            return;
        }
        cancel();
        timer = ctx.executor().schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void fire() {
        timer = null;
        Exchange ex = waiting.get();
        if (ex == null) {
            return; // the next exchange arms it again
        }
        long next = ex.checkResponseTimeout(System.nanoTime());
        if (next > 0) {
            arm(next);
        }
    }
}
