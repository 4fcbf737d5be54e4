package fulcrum.proxy;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The idle timeout of the client connections of one listener on one event loop: one repeating
 * timer of the loop checks them all, where a timer per connection would hold a scheduled task
 * (about 80 bytes of heap) for the whole life of every idle WebSocket tunnel, and traffic only
 * sets a flag instead of reading the clock. A connection is closed between its timeout and two
 * ticks after it; a tick is a tenth of the timeout, at most 1 s.
 * The connections are linked through their handlers and touched only by the loop's thread.
 */
final class IdleSweep {
    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final EventLoop loop;
    private final long tickNanos;
    private FrontendHandler head;
    private ScheduledFuture<?> timer;

    IdleSweep(EventLoop loop, Duration idleTimeout) {
        this.loop = loop;
        this.tickNanos = Math.max(MIN_TICK_NANOS, Math.min(MAX_TICK_NANOS, idleTimeout.toNanos() / 10));
    }

    void add(FrontendHandler h) {
        h.idleNext = head;
        if (head != null) {
            head.idlePrev = h;
        }
        head = h;
        if (timer == null) {
            timer = loop.scheduleAtFixedRate(this::sweep, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
        }
    }

    void remove(FrontendHandler h) {
        if (h.idlePrev != null) {
            h.idlePrev.idleNext = h.idleNext;
        } else if (head == h) {
            head = h.idleNext;
        } else {
            return; // not linked
        }
        if (h.idleNext != null) {
            h.idleNext.idlePrev = h.idlePrev;
        }
        h.idlePrev = null;
        h.idleNext = null;
        if (head == null) {
            // No connection left on this loop: no wake-ups for nothing until the next one.
            timer.cancel(false);
            timer = null;
        }
    }

    /** The connections on this loop, newest first. */
    List<FrontendHandler> connections() {
        List<FrontendHandler> out = new ArrayList<>();
        for (FrontendHandler h = head; h != null; h = h.idleNext) {
            out.add(h);
        }
        return out;
    }

    private void sweep() {
        long now = System.nanoTime();
        FrontendHandler h = head;
        while (h != null) {
            // Closing a connection unlinks it later (channelInactive), never its neighbour.
            FrontendHandler next = h.idleNext;
            h.checkIdle(now);
            h = next;
        }
    }
}
