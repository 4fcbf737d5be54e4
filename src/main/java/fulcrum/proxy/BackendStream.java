package fulcrum.proxy;

import fulcrum.balance.Target;

/**
 * One request's way to its target, as an {@link Exchange} drives it: a pooled HTTP/1.1
 * connection leased whole ({@link BackendHandler}) or one stream of a shared HTTP/2 connection
 * ({@link H2BackendStream}). Whichever it is, it hands the response to its exchange as HTTP/1.1
 * messages (head, body pieces, a last piece with trailers), so the exchange's phases, retries,
 * timers and records are one code path.
 */
interface BackendStream {
    Target target();

    /** From now on events go to {@code exchange}. */
    void lease(Exchange exchange);

    /** Queues a request head or body piece; {@link #flush()} sends it. */
    void send(Object msg);

    void flush();

    /** Whether the target takes more request bytes now. */
    boolean isWritable();

    /** Reads the response on or off: off while the client cannot take more. */
    void readable(boolean on);

    /** The exchange ended cleanly: the connection may serve the next request. */
    void release(int maxIdle);

    /** The exchange ended in a way that leaves this stream (or connection) unusable. */
    void close();
}
