package fulcrum.proxy;

import fulcrum.balance.EngineIoHandshake;
import fulcrum.balance.EngineIoSessions;
import fulcrum.balance.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.ReferenceCountUtil;

/**
 * A WebSocket connection after its 101: raw bytes both ways, frames untouched. Either side that
 * cannot keep up stops the other from reading; either side closing closes the other once what
 * was already sent to it has been flushed.
 */
final class Tunnel {
    /** An unmasked close frame (server to client) with status 1001. */
    private static final byte[] GOING_AWAY = {(byte) 0x88, 0x02, 0x03, (byte) 0xe9};
    private final FrontendHandler frontend;
    private final Channel client;
    private final Channel backend;
    private final Target target;
    private boolean clientFlush;
    private boolean backendFlush;
    private boolean closed;
    private final Origin origin;
    /** Reads the first frame from the target for the Engine.IO sid, however it is split; null when done or none. */
    private EngineIoHandshake handshake;
    private final long startNanos = System.nanoTime();
    private long fromClient;
    private long fromBackend;
    private final FrameBoundaries toClient = new FrameBoundaries();

    /** Where the tunnel came from, for its record at the end. */
    record Origin(String listener, java.net.InetSocketAddress client, String group, String uri, String requestId,
                  long startMillis, ExchangeObserver observer, ExchangeObserver.ExchangeRecord upgrade) {
    }

    Tunnel(FrontendHandler frontend, Channel client, Channel backend, Target target, Origin origin) {
        this.frontend = frontend;
        this.client = client;
        this.backend = backend;
        this.target = target;
        this.origin = origin;
        target.tunnelOpened();
    }

    /** The tunnel opens an Engine.IO session: its first frame from the target names it. */
    void learnSessionInto(EngineIoSessions sessions) {
        this.handshake = sessions.webSocketHandshake(target);
    }

    void fromClient(Object msg) {
        if (!(msg instanceof ByteBuf) || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        frontend.touch();
        fromClient += ((ByteBuf) msg).readableBytes();
        backend.write(QueuedPieces.compact(backend, (ByteBuf) msg), backend.voidPromise());
        backendFlush = true;
    }

    void clientReadComplete() {
        if (backendFlush) {
            backendFlush = false;
            backend.flush();
        }
        if (!backend.isWritable()) {
            client.config().setAutoRead(false);
        }
    }

    void fromBackend(Object msg) {
        if (!(msg instanceof ByteBuf) || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        frontend.touch();
        fromBackend += ((ByteBuf) msg).readableBytes();
        if (handshake != null && handshake.feed((ByteBuf) msg, System.nanoTime())) {
            handshake = null;
        }
        toClient.feed((ByteBuf) msg);
        client.write(QueuedPieces.compact(client, (ByteBuf) msg), client.voidPromise());
        clientFlush = true;
    }

    void backendReadComplete() {
        if (clientFlush) {
            clientFlush = false;
            client.flush();
        }
        if (!client.isWritable()) {
            backend.config().setAutoRead(false);
        }
    }

    void clientWritabilityChanged() {
        backend.config().setAutoRead(client.isWritable());
    }

    void backendWritabilityChanged() {
        client.config().setAutoRead(backend.isWritable());
    }

    void clientClosed() {
        close(backend);
    }

    void backendClosed() {
        close(client);
    }

    /**
     * Shutdown: when the client's stream is between two frames, it is told why with a close frame
     * of status 1001 "going away" (RFC 6455 7.4.1) before both sides are closed.
     */
    void goingAway() {
        if (closed || !client.isActive() || !toClient.atBoundary()) {
            closeBoth();
            return;
        }
        close(backend);
        client.writeAndFlush(Unpooled.wrappedBuffer(GOING_AWAY)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Closes both sides (idle timeout, shutdown, target taken out). */
    void closeBoth() {
        close(backend);
        client.close();
    }

    private void close(Channel other) {
        if (closed) {
            return;
        }
        closed = true;
        target.tunnelClosed();
        if (origin.observer() != ExchangeObserver.NONE) {
            origin.observer().tunnelClosed(new ExchangeObserver.TunnelRecord(
                    origin.listener(), origin.client(), origin.group(), target.id(), origin.uri(), origin.requestId(),
                    origin.startMillis(), System.nanoTime() - startNanos, fromClient, fromBackend, origin.upgrade()));
        }
        if (other.isActive()) {
            other.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
