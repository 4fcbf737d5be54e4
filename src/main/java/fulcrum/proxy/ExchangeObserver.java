package fulcrum.proxy;

import fulcrum.http.DesyncClass;

import java.net.InetSocketAddress;

/**
 * Told about every finished exchange and tunnel, for metrics and access logs. Called on the
 * connection's event loop: implementations hand work off rather than block or format there.
 */
public interface ExchangeObserver {
    ExchangeObserver NONE = new ExchangeObserver() {
        @Override
        public void exchangeEnded(ExchangeRecord r) {
        }

        @Override
        public void tunnelClosed(TunnelRecord r) {
        }
    };

    void exchangeEnded(ExchangeRecord r);

    void tunnelClosed(TunnelRecord r);

    /**
     * Whether {@link TunnelRecord}s given to this observer need the request's URI and id (an access
     * log writes them; counters do not): an idle tunnel then keeps them for its whole life.
     */
    default boolean recordsRequests() {
        return false;
    }

    /** A request refused by the decoder (desync class, limits) or timed out before its head was complete. */
    default void rejected(String listener, int status, DesyncClass desyncClass) {
    }

    default void connectionOpened(String listener) {
    }

    default void connectionClosed(String listener) {
    }

    /** A request that went (or tried to go) to another target after its first failed. */
    default void retried(String group, String target) {
    }

    /** A connection to a target that could not be opened. */
    default void connectFailed(String group, String target) {
    }

    /** Outlier detection ejected {@code target} for {@code duration} after this listener's traffic. */
    default void ejected(String group, String target, java.time.Duration duration, String reason) {
    }

    /**
     * One request and its response.
     *
     * @param status the status sent to the client; 0 when the client left before any
     * @param targetStatus the status the target answered; -1 when it did not answer
     * @param startNanos System.nanoTime() when the request head arrived
     * @param sentNanos when the request head went to the target; 0 when it never did
     * @param responseNanos when the response head arrived from the target; 0 when none did
     * @param endNanos when the exchange ended
     * @param userAgent the request's User-Agent; null when none, or when the observer does not
     *        record requests (made into a String only for an access log)
     * @param requestId the request's X-Request-Id; null when none, or when the observer does not
     *        record requests
     * @param connection the client connection's facts; null when unknown, or when the observer
     *        does not {@linkplain ExchangeObserver#recordsRequests() record requests}
     * @param host the request's Host field; null when none, no request was read, or the observer
     *        does not record requests
     * @param route the listener's routing decision; null when the request was not routed
     * @param reason why the request was refused, or why it got a desync class other than
     *        compliant; null otherwise
     */
    record ExchangeRecord(String listener, InetSocketAddress client, String group, String target, String method,
                          String uri, String protocol, String userAgent, String requestId, long startMillis,
                          long startNanos, long sentNanos, long responseNanos, long endNanos, int status,
                          int targetStatus, long bytesReceived, long bytesSent, int attempts,
                          DesyncClass desyncClass, ConnectionFacts connection, String host, RouteDecision route,
                          String reason) {
    }

    /**
     * One WebSocket tunnel, at its end; {@code uri}, {@code requestId} and {@code upgrade} (the
     * record of the request that opened it) are null unless the observer
     * {@linkplain ExchangeObserver#recordsRequests() records requests}.
     */
    record TunnelRecord(String listener, InetSocketAddress client, String group, String target, String uri,
                        String requestId, long startMillis, long durationNanos, long bytesFromClient,
                        long bytesFromTarget, ExchangeRecord upgrade) {
    }
}
