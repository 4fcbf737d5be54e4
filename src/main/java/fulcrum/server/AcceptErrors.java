package fulcrum.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * On a listening channel: an accept that fails (out of file descriptors, mostly) pauses accepting
 * for a second, and a run of failures is logged twice, when it begins and once accepts have gone
 * a while without failing, instead of a warning with a stack trace per failed accept. Connections
 * that arrive meanwhile wait in the kernel's backlog. Netty's own acceptor pauses the same way,
 * but lets every error on to the end of the pipeline, where each is logged; this handler stands
 * before it and takes the errors itself. Touched only from its channel's event loop.
 */
public final class AcceptErrors extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(AcceptErrors.class);
    static final long PAUSE_MS = 1000;
    /** How long accepts go without failing before a run of failures counts as over. */
    static final long QUIET_MS = 5000;

    private final String what;
    private long failures;
    private long firstNanos;
    private long lastNanos;
    private ScheduledFuture<?> watch;

    /** {@code what} names the listener in the log, e.g. "listener public". */
    public AcceptErrors(String what) {
        this.what = what;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Channel ch = ctx.channel();
        long now = System.nanoTime();
        lastNanos = now;
        if (failures++ == 0) {
            firstNanos = now;
            log.warn("{}: cannot accept connections: {}{}; pausing accepts for {} ms at a time until they succeed",
                     what, cause.getMessage(), hint(cause), PAUSE_MS);
            watch = ch.eventLoop().scheduleAtFixedRate(this::endOfRun, QUIET_MS, PAUSE_MS, TimeUnit.MILLISECONDS);
        }
        if (ch.config().isAutoRead()) {
            ch.config().setAutoRead(false);
            ch.eventLoop().schedule(() -> ch.config().setAutoRead(true), PAUSE_MS, TimeUnit.MILLISECONDS);
        }
    }

    private void endOfRun() {
        long now = System.nanoTime();
        if (now - lastNanos < TimeUnit.MILLISECONDS.toNanos(QUIET_MS)) {
            return;
        }
        log.info("{}: accepting again; {} accepts failed over {} ms", what, failures,
                 TimeUnit.NANOSECONDS.toMillis(lastNanos - firstNanos));
        failures = 0;
        watch.cancel(false);
        watch = null;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (watch != null) {
            watch.cancel(false);
            watch = null;
        }
        ctx.fireChannelInactive();
    }

    private static String hint(Throwable cause) {
        String m = String.valueOf(cause.getMessage());
        return m.contains("Too many open files")
               ? " (the process's file descriptor limit, LimitNOFILE / ulimit -n; or set max-connections below it)"
               : "";
    }
}
