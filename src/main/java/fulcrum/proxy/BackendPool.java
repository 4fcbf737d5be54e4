package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.config.TargetGroupSettings;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ChannelFactory;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Backend connections of one event loop, per target. Touched only from its own loop, so plain
 * collections do. Every backend connection of the loop is here: idle ones LIFO (the most
 * recently used connection is the least likely to have been closed by its server), busy ones
 * listed so that a target turning unhealthy or drained can have them closed. HTTP/2
 * connections (http2 and grpc groups) are not leased whole: each carries many exchanges' streams.
 */
public final class BackendPool {
    static final String CODEC = "codec";
    static final String HANDLER = "handler";

    private final EventLoop loop;
    private final Bootstrap prototype;
    private final ChannelFactory<? extends Channel> channels;
    /** Sockets for IPv4 targets: AF_INET where the transport can (epoll). */
    private final ChannelFactory<? extends Channel> inet4;
    /** The transport's options (allocators) from the prototype, read once. */
    private final List<Map.Entry<ChannelOption<?>, Object>> options;
    private final Map<Target, Conns> conns = new HashMap<>();
    /** HTTP/2 connections (http2 and grpc groups), each carrying many exchanges' streams. */
    private final Map<Target, List<H2BackendConnection>> h2 = new HashMap<>();
    private final LoopClock clock = new LoopClock();

    BackendPool(EventLoop loop, Bootstrap prototype) {
        this(loop, prototype, prototype.config().channelFactory());
    }

    BackendPool(EventLoop loop, Bootstrap prototype, ChannelFactory<? extends Channel> inet4) {
        this.loop = loop;
        this.prototype = prototype;
        this.channels = prototype.config().channelFactory();
        this.inet4 = inet4;
        this.options = List.copyOf(prototype.config().options().entrySet());
    }

    EventLoop loop() {
        return loop;
    }

    /** The loop's clock, frozen inside its connections' read callbacks. */
    LoopClock clock() {
        return clock;
    }

    /** An idle connection to {@code target} that is still open and fresh enough, or null. */
    BackendHandler pollIdle(Target target, long keepAliveNanos) {
        Conns c = conns.get(target);
        if (c == null) {
            return null;
        }
        long now = clock.nanos();
        BackendHandler b;
        while ((b = c.idle.pollFirst()) != null) {
            if (b.reusable() && now - b.idleSince() < keepAliveNanos) {
                c.busy.addFirst(b);
                return b;
            }
            b.channel().close();
        }
        return null;
    }

    /** Opens a new connection; the handler is registered busy at once so it can be closed. */
    ChannelFuture connect(Target target, TargetGroupSettings settings, BackendHandler handler) {
        conns(target).busy.addFirst(handler);
        ChannelFuture f = open(target, settings, p -> {
            p.addLast(CODEC, new BackendCodec(settings.maxResponseHeaderSize()));
            p.addLast(HANDLER, handler);
        });
        handler.opening(f.channel());
        if (f.isDone() && !f.isSuccess() && !f.channel().isRegistered()) {
            removed(handler); // no socket was made (out of descriptors): nothing will ever close
            return f;
        }
        // A connection that never became active gets no channelInactive: BackendHandler.handlerRemoved
        // forgets it (a close listener here would hold a closure for each connection's whole life).
        return f;
    }

    /**
     * Starts an HTTP/2 stream to {@code target} on a connection of this loop with room for it, or
     * on a new one when every one is full (or going away); {@code done} hears of the stream's
     * opening, or why it could not be opened.
     */
    void openStream(Target target, TargetGroupSettings settings, H2BackendStream stream, Consumer<Throwable> done) {
        List<H2BackendConnection> list = h2.computeIfAbsent(target, k -> new ArrayList<>(2));
        for (H2BackendConnection c : list) {
            if (c.hasRoom()) {
                c.open(stream, done);
                return;
            }
        }
        H2BackendConnection c = new H2BackendConnection(target, settings, this);
        list.add(c);
        c.open(stream, done);
        ChannelFuture f = open(target, settings, p -> H2cClient.init(p, settings.maxResponseHeaderSize(), c));
        f.channel().closeFuture().addListener(cf -> removed(c));
        c.connecting(f);
    }

    /**
     * Connects to {@code target} on this loop, under its group's connect timeout; {@code pipeline}
     * fills the pipeline. A resolved address (every IP target) skips {@link Bootstrap}: a copy of
     * it per connection (its option maps, a {@link ChannelInitializer} added and removed again,
     * the resolver looked up) was 8 % of the Java samples of a reconnect storm, and TCP_NODELAY
     * set twice (docs/benchmarks.md, 2026-12-07). A DNS name goes through it, which resolves it.
     */
    private ChannelFuture open(Target target, TargetGroupSettings settings, Consumer<ChannelPipeline> pipeline) {
        int connectTimeout = (int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis());
        InetSocketAddress address = target.socketAddress();
        if (address.isUnresolved()) {
            return viaBootstrap(address, connectTimeout, pipeline);
        }
        Channel ch;
        try {
            ch = (address.getAddress() instanceof Inet4Address ? inet4 : channels).newChannel();
        } catch (ChannelException noSocket) {
            // Out of descriptors, say: Bootstrap fails the same way and hands back its failed
            // future, which the exchange answers (a 503 when no other target can take it).
            return viaBootstrap(address, connectTimeout, pipeline);
        }
        ChannelConfig config = ch.config();
        for (Map.Entry<ChannelOption<?>, Object> o : options) {
            setOption(config, o.getKey(), o.getValue());
        }
        // TCP_NODELAY is every transport's default already (Netty sets it as it makes the socket).
        config.setOption(ChannelOption.SO_KEEPALIVE, true);
        config.setConnectTimeoutMillis(connectTimeout);
        pipeline.accept(ch.pipeline());
        ChannelPromise connected = ch.newPromise();
        loop.register(ch).addListener((ChannelFuture registered) -> {
            if (!registered.isSuccess()) {
                if (ch.isRegistered()) {
                    ch.close();
                } else {
                    ch.unsafe().closeForcibly();
                }
                connected.tryFailure(registered.cause());
                return;
            }
            // As Bootstrap does, the connect waits for the loop's task phase, after the I/O at
            // hand: made at once instead, a storm of upgrades cost io_uring 8 us more each
            // (docs/benchmarks.md, 2026-12-07).
            loop.execute(() -> ch.connect(address, connected).addListener(ChannelFutureListener.CLOSE_ON_FAILURE));
        });
        return connected;
    }

    private ChannelFuture viaBootstrap(InetSocketAddress address, int connectTimeout, Consumer<ChannelPipeline> pipeline) {
        return prototype.clone(loop)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeout)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        pipeline.accept(ch.pipeline());
                    }
                })
                .connect(address);
    }

    @SuppressWarnings("unchecked")
    private static <T> void setOption(ChannelConfig config, ChannelOption<T> option, Object value) {
        config.setOption(option, (T) value);
    }

    /** Forgets an HTTP/2 connection that closed. */
    void removed(H2BackendConnection c) {
        List<H2BackendConnection> list = h2.get(c.target());
        if (list != null) {
            list.remove(c);
        }
    }

    /** Returns a connection whose exchange ended cleanly; keeps it unless there are enough. */
    void release(BackendHandler b, int maxIdle) {
        Conns c = conns(b.target());
        c.busy.remove(b);
        if (!b.channel().isActive() || c.idle.size() >= maxIdle) {
            b.channel().close();
            return;
        }
        c.idle.addFirst(b);
    }

    /** Forgets a connection that closed. */
    void removed(BackendHandler b) {
        HandlerList.leave(b);
    }

    /** Closes every connection of this pool, to every target; the futures complete when each has closed. */
    List<ChannelFuture> closeEverything() {
        Set<Target> targets = new HashSet<>(conns.keySet());
        targets.addAll(h2.keySet());
        List<ChannelFuture> closed = new ArrayList<>();
        for (Target t : targets) {
            closeAll(t).forEach(ch -> closed.add(ch.closeFuture()));
        }
        return closed;
    }

    /** Closes every connection to {@code target}: idle, in an exchange, or tunnelling. Returns them. */
    List<Channel> closeAll(Target target) {
        List<Channel> toClose = new ArrayList<>();
        Conns c = conns.get(target);
        if (c != null) {
            c.idle.drain(b -> toClose.add(b.channel()));
            c.busy.forEach(b -> toClose.add(b.channel()));
        }
        List<H2BackendConnection> list = h2.remove(target);
        if (list != null) {
            list.forEach(h -> toClose.add(h.channel()));
        }
        // Closed once gathered: a close takes the connection out of the busy list.
        toClose.forEach(Channel::close);
        return toClose;
    }

    /**
     * Closes connections to {@code target} that carry no exchange; HTTP/2 connections are sent
     * GOAWAY, take no new stream and close when their open streams have finished.
     */
    void closeIdle(Target target) {
        Conns c = conns.get(target);
        if (c != null) {
            c.idle.drain(b -> b.channel().close());
        }
        List<H2BackendConnection> list = h2.get(target);
        if (list != null) {
            // Kept listed (they take no new stream) so that a later closeAll still finds them.
            List.copyOf(list).forEach(H2BackendConnection::goAway);
        }
    }

    /** Tunnels to {@code target}: their backend channels. */
    List<Channel> tunnels(Target target) {
        List<Channel> out = new ArrayList<>();
        Conns c = conns.get(target);
        if (c != null) {
            c.busy.forEach(b -> {
                if (b.isTunnel()) {
                    out.add(b.channel());
                }
            });
        }
        return out;
    }

    /** Connections to {@code target} leased or being opened (tunnels included). */
    int busy(Target target) {
        Conns c = conns.get(target);
        return c == null ? 0 : c.busy.size();
    }

    private Conns conns(Target t) {
        return conns.computeIfAbsent(t, k -> new Conns());
    }

    /** A target's connections on this loop: idle ones (most recently used first), and busy ones. */
    private static final class Conns {
        final HandlerList idle = new HandlerList();
        final HandlerList busy = new HandlerList();
    }
}
