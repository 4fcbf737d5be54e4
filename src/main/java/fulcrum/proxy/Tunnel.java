package fulcrum.proxy;

import fulcrum.balance.EngineIoHandshake;
import fulcrum.balance.EngineIoSessions;
import fulcrum.balance.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;

/**
 * A WebSocket connection after its 101: raw bytes both ways, frames untouched. Either side that
 * cannot keep up stops the other from reading; either side closing closes the other once what
 * was already sent to it has been flushed. The client side is an HTTP/1.1 connection of its own
 * or a stream of an HTTP/2 connection (RFC 8441), seen through {@link ClientEnd}.
 */
final class Tunnel {
    /** An unmasked close frame (server to client) with status 1001. */
    private static final byte[] GOING_AWAY = {(byte) 0x88, 0x02, 0x03, (byte) 0xe9};
    private final ClientEnd client;
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

    /**
     * The client side of a tunnel: what carries the WebSocket's bytes to and from the client.
     * {@link #flush}, {@link #isWritable} and {@link #touch} mean what they mean to a {@link ClientStream}.
     */
    interface ClientEnd {
        /** Queues bytes for the client; {@link #flush} sends them. */
        void send(ByteBuf bytes);

        void flush();

        boolean isWritable();

        /** Reads from the client on or off: off while the backend cannot take more. */
        void readable(boolean on);

        boolean isActive();

        void touch();

        /** Ends the client's side once what was queued has gone: the connection closes, the stream ends. */
        void end();

        /** Ends the client's side now. */
        void abort();
    }

    /** Where the tunnel came from, for its record at the end. */
    record Origin(String listener, InetSocketAddress client, String group, String uri, String requestId,
                  long startMillis, ExchangeObserver observer, ExchangeObserver.ExchangeRecord upgrade) {
    }

    private Tunnel(ClientEnd client, Channel backend, Target target, Origin origin) {
        this.client = client;
        this.backend = backend;
        this.target = target;
        this.origin = origin;
        target.tunnelOpened();
    }

    /**
     * Turns the exchange whose 101 just ended, and its backend connection, into a tunnel to
     * {@code client}. The backend's codec goes: any bytes it had buffered past the 101 are the
     * tunnel's first. Reading on each side starts as the other side can take it.
     */
    static Tunnel start(Exchange e, BackendHandler b, ClientEnd client, ListenerContext listener,
                        InetSocketAddress remote) {
        EngineIoSessions sessions = e.affinity.engineIoWebSocket() ? e.group.engineIo() : null;
        ExchangeObserver observer = listener.observer();
        // An idle tunnel holds its request's URI and id only for an observer that writes them.
        boolean details = observer.recordsRequests();
        Origin origin = new Origin(listener.settings().name(), remote, e.group.name(),
                                   details ? e.request.uri() : null,
                                   details ? e.request.headers().get(Exchange.X_REQUEST_ID) : null,
                                   System.currentTimeMillis(), observer, details ? e.observed() : null);
        Tunnel t = new Tunnel(client, b.channel(), e.target, origin);
        if (sessions != null) {
            t.handshake = sessions.webSocketHandshake(e.target);
        }
        b.startTunnel(t);
        client.flush();
        b.channel().pipeline().remove(BackendPool.CODEC);
        b.readable(client.isWritable());
        client.readable(b.isWritable());
        return t;
    }

    void fromClient(Object msg) {
        if (!(msg instanceof ByteBuf) || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        client.touch();
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
            client.readable(false);
        }
    }

    void fromBackend(Object msg) {
        if (!(msg instanceof ByteBuf) || closed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        client.touch();
        fromBackend += ((ByteBuf) msg).readableBytes();
        if (handshake != null && handshake.feed((ByteBuf) msg, System.nanoTime())) {
            handshake = null;
        }
        toClient.feed((ByteBuf) msg);
        client.send((ByteBuf) msg);
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
        client.readable(backend.isWritable());
    }

    /** The client has gone, or ended its side: the backend closes once what it was sent is flushed. */
    void clientClosed() {
        if (end()) {
            closeBackend();
        }
    }

    void backendClosed() {
        if (end()) {
            client.end();
        }
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
        end();
        closeBackend();
        client.send(Unpooled.wrappedBuffer(GOING_AWAY));
        client.end();
    }

    /** Closes both sides (idle timeout, shutdown, target taken out). */
    void closeBoth() {
        if (end()) {
            closeBackend();
        }
        client.abort();
    }

    private void closeBackend() {
        if (backend.isActive()) {
            backend.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Marks the end and records it; false when it had already ended. */
    private boolean end() {
        if (closed) {
            return false;
        }
        closed = true;
        target.tunnelClosed();
        if (origin.observer() != ExchangeObserver.NONE) {
            origin.observer().tunnelClosed(new ExchangeObserver.TunnelRecord(
                    origin.listener(), origin.client(), origin.group(), target.id(), origin.uri(), origin.requestId(),
                    origin.startMillis(), System.nanoTime() - startNanos, fromClient, fromBackend, origin.upgrade()));
        }
        return true;
    }
}
