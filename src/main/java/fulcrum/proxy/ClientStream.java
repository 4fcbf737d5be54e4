package fulcrum.proxy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpResponse;

import java.net.InetSocketAddress;

/**
 * The client end of one {@link Exchange}: what the exchange may ask of the connection that
 * carries it. An HTTP/1.1 connection ({@link FrontendHandler}) carries one exchange at a time; an
 * HTTP/2 connection would give each stream its own. The exchange never touches the client's
 * channel, codec or queue directly.
 */
interface ClientStream {
    ListenerContext listener();

    /** The pool of backend connections of the loop this client runs on. */
    BackendPool pool();

    InetSocketAddress remote();

    /** What the access log says about the client's connection; null when not known. */
    default ConnectionFacts connection() {
        return null;
    }

    /** The client's address as forwarding headers write it. */
    String clientText();

    ByteBufAllocator alloc();

    /**
     * Prepares a final response head from a target for this client's protocol (framing,
     * connection fields) and says whether the client connection must close after it.
     */
    boolean frameResponse(Exchange ex, HttpResponse res);

    /** Queues a response head or piece to the client; {@link #flush()} sends it. */
    void write(Object msg);

    void flush();

    /** Whether the client takes more response bytes now; when it does again, {@link Exchange#clientWritable} is called. */
    boolean isWritable();

    /** Traffic for the idle timeout. */
    void touch();

    /**
     * The request head went to a backend: body pieces held back may follow it now, and the
     * backend must not stay silent for longer than {@code responseTimeoutNanos}.
     */
    void requestSent(long responseTimeoutNanos);

    /** The backend's writability changed: reading the request body may stop or resume. */
    void backendWritabilityChanged();

    /** The exchange has ended (called once, from {@link Exchange}'s single end). */
    void exchangeDone(Exchange ex);

    /** The 101 is complete: the client and {@code backend} now relay raw bytes. */
    void startTunnel(Exchange ex, BackendHandler backend);
}
