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

    /**
     * Whether this observer holds on to an {@link ExchangeRecord} after {@link #exchangeEnded}
     * returns (a queue, a list). One that only reads it during the call (counters) says false and
     * is given a record reused for the event loop's next exchange: one allocation less per request.
     */
    default boolean keepsRecords() {
        return true;
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
     * <p>
     * An observer that {@linkplain ExchangeObserver#keepsRecords() keeps no records} is given one
     * that the event loop's next exchange overwrites.
     */
    final class ExchangeRecord {
        private String listener;
        private InetSocketAddress client;
        private String group;
        private String target;
        private String method;
        private String uri;
        private String protocol;
        private String userAgent;
        private String requestId;
        private long startMillis;
        private long startNanos;
        private long sentNanos;
        private long responseNanos;
        private long endNanos;
        private int status;
        private int targetStatus;
        private long bytesReceived;
        private long bytesSent;
        private int attempts;
        private DesyncClass desyncClass;
        private ConnectionFacts connection;
        private String host;
        private RouteDecision route;
        private String reason;

        /** Empty, to be {@linkplain #set set}. */
        ExchangeRecord() {
        }

        public ExchangeRecord(String listener, InetSocketAddress client, String group, String target, String method,
                              String uri, String protocol, String userAgent, String requestId, long startMillis,
                              long startNanos, long sentNanos, long responseNanos, long endNanos, int status,
                              int targetStatus, long bytesReceived, long bytesSent, int attempts,
                              DesyncClass desyncClass, ConnectionFacts connection, String host, RouteDecision route,
                              String reason) {
            set(listener, client, group, target, method, uri, protocol, userAgent, requestId, startMillis, startNanos,
                sentNanos, responseNanos, endNanos, status, targetStatus, bytesReceived, bytesSent, attempts,
                desyncClass, connection, host, route, reason);
        }

        /** Overwritten in place: see {@link ExchangeObserver#keepsRecords()}. */
        ExchangeRecord set(String listener, InetSocketAddress client, String group, String target, String method,
                           String uri, String protocol, String userAgent, String requestId, long startMillis,
                           long startNanos, long sentNanos, long responseNanos, long endNanos, int status,
                           int targetStatus, long bytesReceived, long bytesSent, int attempts,
                           DesyncClass desyncClass, ConnectionFacts connection, String host, RouteDecision route,
                           String reason) {
            this.listener = listener;
            this.client = client;
            this.group = group;
            this.target = target;
            this.method = method;
            this.uri = uri;
            this.protocol = protocol;
            this.userAgent = userAgent;
            this.requestId = requestId;
            this.startMillis = startMillis;
            this.startNanos = startNanos;
            this.sentNanos = sentNanos;
            this.responseNanos = responseNanos;
            this.endNanos = endNanos;
            this.status = status;
            this.targetStatus = targetStatus;
            this.bytesReceived = bytesReceived;
            this.bytesSent = bytesSent;
            this.attempts = attempts;
            this.desyncClass = desyncClass;
            this.connection = connection;
            this.host = host;
            this.route = route;
            this.reason = reason;
            return this;
        }

        public String listener() {
            return listener;
        }

        public InetSocketAddress client() {
            return client;
        }

        public String group() {
            return group;
        }

        public String target() {
            return target;
        }

        public String method() {
            return method;
        }

        public String uri() {
            return uri;
        }

        public String protocol() {
            return protocol;
        }

        public String userAgent() {
            return userAgent;
        }

        public String requestId() {
            return requestId;
        }

        public long startMillis() {
            return startMillis;
        }

        public long startNanos() {
            return startNanos;
        }

        public long sentNanos() {
            return sentNanos;
        }

        public long responseNanos() {
            return responseNanos;
        }

        public long endNanos() {
            return endNanos;
        }

        public int status() {
            return status;
        }

        public int targetStatus() {
            return targetStatus;
        }

        public long bytesReceived() {
            return bytesReceived;
        }

        public long bytesSent() {
            return bytesSent;
        }

        public int attempts() {
            return attempts;
        }

        public DesyncClass desyncClass() {
            return desyncClass;
        }

        public ConnectionFacts connection() {
            return connection;
        }

        public String host() {
            return host;
        }

        public RouteDecision route() {
            return route;
        }

        public String reason() {
            return reason;
        }

        @Override
        public String toString() {
            return "ExchangeRecord[" + listener + " " + method + " " + uri + " " + status + " " + group + "/" + target
                   + "]";
        }
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
