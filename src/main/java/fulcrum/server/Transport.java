package fulcrum.server;

import fulcrum.config.FulcrumSettings.TransportKind;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * The event-loop transport. {@code auto} takes io_uring where the kernel offers it (5.19 and
 * later: one io_uring_enter carries the reads and writes of many connections, where epoll makes a
 * system call for each), then epoll, then NIO.
 *
 * <p>io_uring reads are plain recv into a buffer of the channel's own, submitted once the socket
 * is readable (Netty polls first without a provided-buffer ring), so an idle connection's pending
 * read holds no buffer. A ring of provided buffers is not used: Netty reads from a ring with
 * multishot recv, whose read loop re-arms even while autoRead is off, so backpressure does not
 * hold (a backend streams into the memory of a client that does not read); read single-shot from
 * the ring, a request cost 13-15 % more proxy CPU than with plain recv (docs/benchmarks.md, "The
 * io_uring read path").
 *
 * <p>Accepts are single-shot on io_uring for the same reason: a multishot accept that fails (out
 * of file descriptors) is re-armed at once whatever autoRead says, so the pause Netty's acceptor
 * takes after an accept error never happens, and each loop spins through tens of thousands of
 * failed accepts a second.
 *
 * @param allocator the buffer allocator of every channel
 */
public record Transport(String name, IoHandlerFactory ioHandlerFactory,
                        Class<? extends ServerChannel> serverChannel,
                        Class<? extends SocketChannel> socketChannel, ByteBufAllocator allocator) {

    /** Netty reads it once, when its io_uring classes load: it must be set before that. */
    private static final String SINGLE_SHOT_ACCEPT = "io.netty.iouring.acceptMultiShotEnabled";

    static {
        System.setProperty(SINGLE_SHOT_ACCEPT, "false");
    }

    /** One read-size policy shared by all connections (each channel otherwise gets its own allocator object). */
    private static final RecvByteBufAllocator RECV = new AdaptiveRecvByteBufAllocator();

    /** The transport of {@code kind} with the pooled allocator as it is. */
    public static Transport choose(TransportKind kind) {
        return choose(kind, POOLED);
    }

    /** The transport of {@code kind}, its channels allocating from {@code allocator}. */
    public static Transport choose(TransportKind kind, ByteBufAllocator allocator) {
        return switch (kind) {
            // Kernels before 5.19 have io_uring without what Netty's transport relies on to be fast.
            case AUTO -> IoUring.isAvailable() && IoUring.isRegisterBufferRingSupported() ? ioUring(allocator)
                         : Epoll.isAvailable() ? epoll(allocator) : nio(allocator);
            case IO_URING -> {
                if (!IoUring.isAvailable()) {
                    throw new IllegalStateException("transport = io-uring, but io_uring is not available here: "
                                                    + IoUring.unavailabilityCause());
                }
                yield ioUring(allocator);
            }
            case EPOLL -> {
                if (!Epoll.isAvailable()) {
                    throw new IllegalStateException("transport = epoll, but epoll is not available here: "
                                                    + Epoll.unavailabilityCause());
                }
                yield epoll(allocator);
            }
            case NIO -> nio(allocator);
        };
    }

    /** What {@code auto} falls back to when this transport's event loops cannot be created. */
    public Transport fallback() {
        return socketChannel == IoUringSocketChannel.class && Epoll.isAvailable() ? epoll(allocator) : nio(allocator);
    }

    /**
     * The buffer memory behind every channel's allocator. Netty 4.2's default (adaptive) hands out each new
     * buffer from fresh chunk memory, so encoding a message head began with cache misses (2-3 % of
     * the event loop in async-profiler at 64 connections) and its buffer objects went through a
     * shared recycling queue; the pooled allocator's per-thread cache gives back the buffer just
     * freed, still in cache. Its arenas grow in 4 MiB chunks, as used.
     */
    static final ByteBufAllocator POOLED = PooledByteBufAllocator.DEFAULT;

    /** Options every backend connection of this transport needs. */
    public Bootstrap configure(Bootstrap b) {
        b.option(ChannelOption.ALLOCATOR, allocator);
        b.option(ChannelOption.RCVBUF_ALLOCATOR, RECV);
        return b;
    }

    /** Options every accepted connection of this transport needs. */
    public ServerBootstrap configureChildren(ServerBootstrap b) {
        b.childOption(ChannelOption.ALLOCATOR, allocator);
        b.childOption(ChannelOption.RCVBUF_ALLOCATOR, RECV);
        return b;
    }

    /**
     * Makes the sockets of connections to IPv4 targets. On epoll they are AF_INET: Netty otherwise
     * makes every socket AF_INET6 and speaks IPv4 through mapped addresses, which costs a system
     * call per socket (IPV6_V6ONLY) and the IPv6 layer's work on each connect; HAProxy and nginx
     * use AF_INET. A WebSocket upgrade in a reconnect storm cost about 2 % less CPU on epoll
     * (docs/benchmarks.md, 2026-12-07). Netty 4.2's io_uring and NIO channels take no family.
     */
    public ChannelFactory<? extends Channel> inet4Channels() {
        if (socketChannel == EpollSocketChannel.class) {
            return () -> new EpollSocketChannel(SocketProtocolFamily.INET);
        }
        return new ReflectiveChannelFactory<>(socketChannel);
    }

    /** Makes a listener's socket for {@code bind}: AF_INET for an IPv4 address on epoll, as {@link #inet4Channels}. */
    public ChannelFactory<? extends ServerChannel> serverChannels(InetAddress bind) {
        if (serverChannel == EpollServerSocketChannel.class && bind instanceof Inet4Address) {
            return () -> new EpollServerSocketChannel(SocketProtocolFamily.INET);
        }
        return new ReflectiveChannelFactory<>(serverChannel);
    }

    private static Transport ioUring(ByteBufAllocator allocator) {
        return new Transport("io_uring", IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
                             IoUringSocketChannel.class, allocator);
    }

    private static Transport epoll(ByteBufAllocator allocator) {
        return new Transport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class,
                             EpollSocketChannel.class, allocator);
    }

    private static Transport nio(ByteBufAllocator allocator) {
        return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class,
                             allocator);
    }
}
