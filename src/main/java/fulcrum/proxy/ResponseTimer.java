package fulcrum.proxy;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;

/**
 * A client connection's one response timer: armed when a request reaches its target, it asks
 * what is waiting (the HTTP/1.1 exchange, or every stream of an HTTP/2 connection) whether a
 * deadline passed, and sleeps again for what is left of the nearest one. One timer per
 * connection rather than one per exchange or stream, so a keep-alive connection, and an HTTP/2
 * connection taking thousands of streams a second, schedule no task per request while responses
 * come in time (a task per stream cost a schedule and a cancel in the loop's timer heap each).
 */
final class ResponseTimer {
    private final EventExecutor executor;
    private final LoopClock clock;
    /** Given the time, nanoseconds until the nearest response deadline, or -1 when nothing waits. */
    private final LongUnaryOperator check;
    private ScheduledFuture<?> timer;
    /** When the armed timer fires (System.nanoTime()). */
    private long firesAt;

    ResponseTimer(EventExecutor executor, LoopClock clock, LongUnaryOperator check) {
        this.executor = executor;
        this.clock = clock;
        this.check = check;
    }

    /** Fires within {@code nanos}: an armed timer that fires sooner stays (it re-arms for what is left then). */
    void arm(long nanos) {
        long at = clock.nanos() + nanos;
        if (timer != null) {
            if (firesAt - at <= 0) {
                return;
            }
            timer.cancel(false); // a shorter response timeout than the armed one's (another target group)
        }
        firesAt = at;
        timer = executor.schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void fire() {
        timer = null;
        long next = check.applyAsLong(System.nanoTime());
        if (next > 0) {
            arm(next);
        }
    }
}
