package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.config.TargetGroupSettings;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One HTTP/2 (h2c) connection to a target, shared by the streams of this event loop's exchanges
 * to it. It counts its streams against the target's SETTINGS_MAX_CONCURRENT_STREAMS (capped at
 * {@link #MAX_STREAMS}, so load spreads over a few connections), stops taking new ones after a
 * GOAWAY either way and closes when its last stream ends, pings the target when a connection
 * with streams has been silent for the keep-alive timeout (closing it when the ping goes
 * unanswered as long), and closes after the keep-alive timeout without streams.
 *
 * <p>Runs on its pool's event loop only.
 */
final class H2BackendConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(H2BackendConnection.class);
    /** Streams on one connection at most, whatever the target allows; past it another connection opens. */
    static final int MAX_STREAMS = 100;
    /**
     * The connection's receive window: room for every stream's own window (64 KiB), so a stream
     * whose client does not read (its window full, unread) never holds up the others.
     */
    static final int CONNECTION_WINDOW = MAX_STREAMS * Http2CodecUtil.DEFAULT_WINDOW_SIZE;

    private final Target target;
    private final TargetGroupSettings settings;
    private final BackendPool pool;
    private final long keepAliveNanos;
    private Channel channel;
    private ChannelHandlerContext ctx;
    private boolean connected;
    /** A GOAWAY was sent or received: streams open finish, no new one starts. */
    private boolean goingAway;
    /** Streams opened or waiting for the connection; each ends with {@link #streamClosed}. */
    private int streams;
    private int maxStreams = MAX_STREAMS;
    /** Streams waiting for the connection to be made and its first SETTINGS read; null after. */
    private ArrayDeque<Waiter> waiting = new ArrayDeque<>(2);
    private long idleSince = System.nanoTime();
    private long lastRead = System.nanoTime();
    private boolean pingSent;
    private long pingAt;
    private ScheduledFuture<?> tick;
    /** Opens this connection's streams; one loop only, so its handler may be set per stream. */
    private Http2StreamChannelBootstrap streamBootstrap;

    private record Waiter(H2BackendStream stream, Consumer<Throwable> done) {
    }

    H2BackendConnection(Target target, TargetGroupSettings settings, BackendPool pool) {
        this.target = target;
        this.settings = settings;
        this.pool = pool;
        this.keepAliveNanos = settings.keepAliveTimeout().toNanos();
    }

    Target target() {
        return target;
    }

    Channel channel() {
        return channel;
    }

    /** Whether a new stream may start here (now, or once the connection is made). */
    boolean hasRoom() {
        return !goingAway && streams < maxStreams && (channel == null || channel.isOpen());
    }

    /** The connection is being made on {@code f}'s channel. */
    void connecting(ChannelFuture f) {
        this.channel = f.channel();
        if (f.isDone()) {
            connectDone(f);
        } else {
            f.addListener((ChannelFuture cf) -> connectDone(cf));
        }
    }

    private void connectDone(ChannelFuture f) {
        if (!f.isSuccess()) {
            failWaiting(f.cause());
        }
    }

    /** The connection failed or closed before its SETTINGS: every waiting stream hears why. */
    private void failWaiting(Throwable cause) {
        ArrayDeque<Waiter> w = waiting;
        if (w == null) {
            return;
        }
        waiting = null;
        streams -= w.size();
        w.forEach(x -> x.done.accept(cause));
    }

    /**
     * The target's first SETTINGS: its stream limit is known, so the waiting streams start, as
     * many as it takes; the rest go back to the pool for another connection.
     */
    private void ready() {
        ArrayDeque<Waiter> w = waiting;
        waiting = null;
        connected = true;
        streams -= w.size();
        for (Waiter x : w) {
            if (hasRoom()) {
                streams++;
                start(x.stream, x.done);
            } else {
                pool.openStream(target, settings, x.stream, x.done);
            }
        }
    }

    /** Starts {@code stream} on this connection; {@code done} hears of its opening, or why it failed. */
    void open(H2BackendStream stream, Consumer<Throwable> done) {
        streams++;
        if (waiting != null) {
            waiting.add(new Waiter(stream, done));
            return;
        }
        start(stream, done);
    }

    private void start(H2BackendStream stream, Consumer<Throwable> done) {
        stream.connection(this);
        if (streamBootstrap == null) {
            streamBootstrap = new Http2StreamChannelBootstrap(channel);
        }
        Future<Http2StreamChannel> f = streamBootstrap.handler(stream).open();
        if (f.isDone()) {
            opened(f, done);
        } else {
            f.addListener(x -> opened(f, done));
        }
    }

    private void opened(Future<Http2StreamChannel> f, Consumer<Throwable> done) {
        if (!f.isSuccess()) {
            streamClosed();
        }
        done.accept(f.isSuccess() ? null : f.cause());
    }

    /** A stream ended (it was counted by {@link #open}). */
    void streamClosed() {
        streams--;
        if (streams == 0) {
            idleSince = System.nanoTime();
            if (goingAway && channel != null) {
                channel.close();
            }
        }
    }

    /** Draining: GOAWAY to the target, streams open finish, then the connection closes. */
    void goAway() {
        if (goingAway) {
            return;
        }
        goingAway = true;
        if (streams == 0 || !connected) {
            if (channel != null) {
                channel.close();
            }
            return;
        }
        if (ctx != null) {
            ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        target.connectionOpened();
        // After the preface and SETTINGS the codec sent on its own channelActive.
        ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(CONNECTION_WINDOW - Http2CodecUtil.DEFAULT_WINDOW_SIZE));
        // A target that accepts the connection but never speaks HTTP/2 must not hold its streams:
        // its SETTINGS are part of the connect, bounded by the connect timeout.
        long connectMillis = settings.connectTimeout().toMillis();
        ctx.executor().schedule(() -> {
            if (waiting != null) {
                failWaiting(new ConnectTimeoutException("no SETTINGS within " + connectMillis + "ms"));
                ctx.close();
            }
        }, connectMillis, TimeUnit.MILLISECONDS);
        long every = Math.max(TimeUnit.MILLISECONDS.toNanos(100), keepAliveNanos / 2);
        tick = ctx.executor().scheduleWithFixedDelay(this::tick, every, every, TimeUnit.NANOSECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2SettingsFrame s) {
            Long max = s.settings().maxConcurrentStreams();
            if (max != null) {
                maxStreams = (int) Math.min(MAX_STREAMS, max);
            }
            if (waiting != null) {
                ready();
            }
        } else if (msg instanceof Http2GoAwayFrame g) {
            log.debug("[{}] GOAWAY from {}: {} last stream {}", ctx.channel().id(), target, g.errorCode(),
                      g.lastStreamId());
            goingAway = true;
            if (streams == 0) {
                ctx.close();
            }
        } else if (msg instanceof Http2PingFrame p && p.ack()) {
            pingSent = false;
        }
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastRead = System.nanoTime();
        pingSent = false;
        ctx.fireChannelReadComplete();
    }

    private void tick() {
        long now = System.nanoTime();
        if (streams == 0) {
            if (now - idleSince >= keepAliveNanos) {
                log.debug("[{}] idle connection to {} closed", channel.id(), target);
                channel.close();
            }
            return;
        }
        if (now - lastRead < keepAliveNanos) {
            return;
        }
        if (pingSent) {
            if (now - pingAt < keepAliveNanos) {
                return;
            }
            log.debug("[{}] {} did not answer a PING: closed", channel.id(), target);
            channel.close();
            return;
        }
        pingSent = true;
        pingAt = now;
        ctx.writeAndFlush(new DefaultHttp2PingFrame(now));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        target.connectionClosed();
        failWaiting(new ClosedChannelException());
        if (tick != null) {
            tick.cancel(false);
        }
        pool.removed(this);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] HTTP/2 connection to {}: {}", ctx.channel().id(), target, cause.toString());
        ctx.close();
    }
}
