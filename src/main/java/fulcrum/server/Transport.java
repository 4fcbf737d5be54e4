package fulcrum.server;

import fulcrum.config.FulcrumSettings.TransportKind;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * The event-loop transport. {@code auto} takes io_uring where the kernel offers it with provided
 * buffer rings (5.19 and later: one io_uring_enter carries the reads and writes of many
 * connections, where epoll makes a system call for each), then epoll, then NIO.
 *
 * <p>Backpressure (a channel's autoRead off while its peer is unwritable) must stop reads on
 * every transport. Netty's io_uring reads with a provided-buffer ring default to multishot recv,
 * and its read loop re-arms a multishot recv whose completion came without IORING_CQE_F_MORE
 * (the ring ran dry, say) even when autoRead is off: a backend then streams into the memory of a
 * client that does not read, to the end of the response. Single-shot recv re-arms only on a read
 * request, so io_uring here reads single-shot ({@link #SINGLE_SHOT_RECV}); where Netty's io_uring
 * classes were loaded before this one and read multishot anyway, the ring is left out, and plain
 * recv (poll first, then a buffer of the channel's own) honours autoRead as epoll does.
 *
 * <p>Accepts are single-shot on io_uring for the same reason: a multishot accept that fails (out
 * of file descriptors) is re-armed at once whatever autoRead says, so the pause Netty's acceptor
 * takes after an accept error never happens, and each loop spins through tens of thousands of
 * failed accepts a second.
 *
 * @param recvRing io_uring reads land in a shared ring of provided buffers
 * @param allocator the buffer allocator of every channel and of the ring
 */
public record Transport(String name, IoHandlerFactory ioHandlerFactory,
                        Class<? extends ServerChannel> serverChannel,
                        Class<? extends SocketChannel> socketChannel, boolean recvRing,
                        ByteBufAllocator allocator) {

    /** Netty reads these once, when its io_uring classes load: they must be set before that. */
    private static final String SINGLE_SHOT_RECV = "io.netty.iouring.recvMultiShotEnabled";
    private static final String SINGLE_SHOT_ACCEPT = "io.netty.iouring.acceptMultiShotEnabled";

    static {
        System.setProperty(SINGLE_SHOT_RECV, "false");
        System.setProperty(SINGLE_SHOT_ACCEPT, "false");
    }

    /**
     * io_uring reads of every connection of a loop share this group of provided buffers, so an
     * idle connection's pending read holds no buffer of its own.
     */
    private static final short RECV_BUFFER_GROUP = 1;
    /**
     * Buffers per loop, each of a fixed size: the ring keeps them all allocated (2 MiB per loop),
     * and when all are taken, a read falls back to a buffer of its own.
     */
    private static final short RECV_BUFFER_RING_SIZE = 128;
    private static final int RECV_BUFFER_SIZE = 16 * 1024;
    private static final RecvByteBufAllocator FIXED_RECV = new FixedRecvByteBufAllocator(RECV_BUFFER_SIZE);
    private static final RecvByteBufAllocator ADAPTIVE_RECV = new AdaptiveRecvByteBufAllocator();

    /** The transport of {@code kind} with the pooled allocator as it is. */
    public static Transport choose(TransportKind kind) {
        return choose(kind, POOLED);
    }

    /** The transport of {@code kind}, its channels and ring allocating from {@code allocator}. */
    public static Transport choose(TransportKind kind, ByteBufAllocator allocator) {
        return switch (kind) {
            // Without buffer rings every idle connection's pending read would pin a buffer.
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
        b.option(ChannelOption.RCVBUF_ALLOCATOR, recvAllocator());
        if (recvRing) {
            b.option(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, RECV_BUFFER_GROUP);
        }
        return b;
    }

    /** Options every accepted connection of this transport needs. */
    public ServerBootstrap configureChildren(ServerBootstrap b) {
        b.childOption(ChannelOption.ALLOCATOR, allocator);
        b.childOption(ChannelOption.RCVBUF_ALLOCATOR, recvAllocator());
        if (recvRing) {
            b.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, RECV_BUFFER_GROUP);
        }
        return b;
    }

    /**
     * One read-size policy shared by all connections (each channel otherwise gets its own
     * allocator object). io_uring reads land in the ring's fixed-size buffers, so a fixed guess
     * (used only when the ring is empty) costs each connection the smallest handle; epoll and
     * NIO size their own buffers and adapt to what arrives.
     */
    private RecvByteBufAllocator recvAllocator() {
        return recvRing ? FIXED_RECV : ADAPTIVE_RECV;
    }

    private static Transport ioUring(ByteBufAllocator allocator) {
        if (!IoUring.isRegisterBufferRingSupported() || IoUring.isRecvMultishotEnabled()) {
            return new Transport("io_uring", IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
                                 IoUringSocketChannel.class, false, allocator);
        }
        IoUringBufferRingConfig ring = IoUringBufferRingConfig.builder()
                .bufferGroupId(RECV_BUFFER_GROUP)
                .bufferRingSize(RECV_BUFFER_RING_SIZE)
                .batchSize(RECV_BUFFER_RING_SIZE / 8)
                .allocator(new IoUringFixedBufferRingAllocator(allocator, RECV_BUFFER_SIZE))
                .build();
        IoUringIoHandlerConfig config = new IoUringIoHandlerConfig().setBufferRingConfig(ring);
        return new Transport("io_uring", IoUringIoHandler.newFactory(config), IoUringServerSocketChannel.class,
                             IoUringSocketChannel.class, true, allocator);
    }

    private static Transport epoll(ByteBufAllocator allocator) {
        return new Transport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class,
                             EpollSocketChannel.class, false, allocator);
    }

    private static Transport nio(ByteBufAllocator allocator) {
        return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class,
                             false, allocator);
    }
}
