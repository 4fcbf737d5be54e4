package fulcrum.proxy;

import fulcrum.balance.Target;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of one backend connection. Between exchanges it sits in the pool with no owner; during
 * one it hands every event to the {@link Exchange} that leased it, which drives it only through
 * its verbs (send, flush, readable, release, close); after a 101 it relays raw bytes of a
 * {@link Tunnel}.
 */
final class BackendHandler extends ChannelInboundHandlerAdapter implements BackendStream {
    private static final Logger log = LoggerFactory.getLogger(BackendHandler.class);

    private final Target target;
    private final BackendPool pool;
    private ChannelHandlerContext ctx;
    private Channel channel;
    private BackendCodec codec;
    private Exchange owner;
    private Tunnel tunnel;
    private long idleSince;
    private boolean inRead;
    /** The max-idle of a release asked for during a read, done at its end; -1 when none. */
    private int releaseAfterRead = -1;
    /** The pool's list this connection is in (its target's idle or busy one), and its neighbours there. */
    HandlerList poolList;
    BackendHandler poolPrev;
    BackendHandler poolNext;

    BackendHandler(Target target, BackendPool pool) {
        this.target = target;
        this.pool = pool;
    }

    @Override
    public Target target() {
        return target;
    }

    Channel channel() {
        return channel != null ? channel : ctx.channel();
    }

    /** The connection being opened for this handler, known before the handler joins its pipeline. */
    void opening(Channel ch) {
        this.channel = ch;
    }

    long idleSince() {
        return idleSince;
    }

    /** Whether an idle connection can take the next request: open, and no stray response bytes held. */
    boolean reusable() {
        return ctx.channel().isActive() && !codec.holdsBytes();
    }

    boolean isTunnel() {
        return tunnel != null;
    }

    @Override
    public void lease(Exchange exchange) {
        this.owner = exchange;
    }

    /** Queues a request head or body piece; {@link #flush()} sends it. */
    @Override
    public void send(Object msg) {
        ctx.channel().write(QueuedPieces.compact(ctx.channel(), msg), ctx.channel().voidPromise());
    }

    @Override
    public void flush() {
        ctx.channel().flush();
    }

    /** Whether the connection takes more request bytes now. */
    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    /** Reads responses on or off: off while the client cannot take more. */
    @Override
    public void readable(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }

    /** The exchange ended cleanly: back to the pool. */
    @Override
    public void release(int maxIdle) {
        owner = null;
        idleSince = pool.clock().nanos();
        if (inRead) {
            // Bytes after the response's end may be in this same read: were the connection pooled
            // now, a request waiting on this loop could lease it and take them as its response.
            releaseAfterRead = maxIdle;
            return;
        }
        pool.release(this, maxIdle);
    }

    /** The exchange ended in a way that leaves the connection unusable (or it was never used). */
    @Override
    public void close() {
        owner = null;
        if (ctx != null) {
            ctx.channel().close();
        }
    }

    void startTunnel(Tunnel t) {
        this.owner = null;
        this.tunnel = t;
        this.codec = null; // removed from the pipeline: an idle tunnel keeps no decoder state
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.codec = (BackendCodec) ctx.pipeline().get(BackendPool.CODEC);
    }

    /** The channel is gone (its pipeline torn down), whether or not it ever became active. */
    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        pool.removed(this);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        target.connectionOpened();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (tunnel != null) {
            tunnel.fromBackend(msg);
        } else if (owner != null) {
            inRead = true;
            boolean froze = pool.clock().freeze();
            try {
                owner.backendRead(this, msg);
            } finally {
                inRead = false;
                if (froze) {
                    pool.clock().thaw();
                }
            }
        } else {
            // A server speaking out of turn on an idle connection: it cannot be trusted with the next request.
            releaseAfterRead = -1;
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (releaseAfterRead >= 0) {
            int maxIdle = releaseAfterRead;
            releaseAfterRead = -1;
            pool.release(this, maxIdle);
            return;
        }
        if (tunnel != null) {
            tunnel.backendReadComplete();
        } else if (owner != null) {
            owner.backendReadComplete(this);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (tunnel != null) {
            tunnel.backendWritabilityChanged();
        } else if (owner != null) {
            owner.backendWritabilityChanged(this);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        target.connectionClosed();
        pool.removed(this);
        if (tunnel != null) {
            tunnel.backendClosed();
        } else if (owner != null) {
            Exchange o = owner;
            owner = null;
            o.backendClosed(this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] backend {}: {}", ctx.channel().id(), target, cause.toString());
        ctx.close();
    }
}
