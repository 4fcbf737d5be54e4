package fulcrum.proxy;

import fulcrum.balance.Affinity;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.http.DecodedRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.net.InetSocketAddress;
import java.util.List;

/** The state of one request/response exchange of a client connection. */
final class Exchange {
    static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");

    final HttpRequest request;
    final boolean head;
    /** A WebSocket upgrade: its 101 turns the connection into a tunnel. */
    final boolean upgrade;
    final boolean clientKeepAlive;
    final boolean client10;
    /** Any Upgrade header: the decoder pauses after such a request until the answer is known. */
    final boolean upgradeHeader;
    final String protocol;
    final long startMillis = System.currentTimeMillis();
    final long startNanos = System.nanoTime();
    final Affinity affinity = new Affinity();

    TargetGroup group;
    Target target;
    /** Targets this request failed on, not to be tried again; null until a retry. */
    List<Target> tried;
    int attempts;
    /** Whether the target counts this request as outstanding. */
    boolean onTarget;
    /** A Set-Cookie of the listener rule (group-level stickiness), or null. */
    String groupCookie;
    boolean headWritten;
    boolean bodyForwarded;
    boolean requestComplete;
    boolean responseStarted;
    boolean responseComplete;
    /** Between a 1xx head and its end. */
    boolean informational;
    /** Between a 101 head and its end, after which the tunnel starts. */
    boolean switching;
    /** The response is sent: the rest of the request body is read and dropped. */
    boolean discarding;
    boolean backendKeepAlive;
    boolean closeClient;
    /** The next response body bytes carry an Engine.IO handshake to learn the sid from. */
    boolean learnSid;
    long lastBackendActivity;
    long sentNanos;
    long responseNanos;
    long bytesReceived;
    long bytesSent;
    int status;
    int targetStatus = -1;
    boolean observed;

    Exchange(HttpRequest request) {
        this.request = request;
        this.protocol = request.protocolVersion().text();
        this.head = request.method() == HttpMethod.HEAD;
        this.client10 = request.protocolVersion() == HttpVersion.HTTP_1_0;
        this.clientKeepAlive = HttpUtil.isKeepAlive(request);
        this.upgradeHeader = request.headers().contains(HttpHeaderNames.UPGRADE);
        this.upgrade = request.method() == HttpMethod.GET
                       && request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
    }

    /** Whether running the request twice is harmless (RFC 9110 9.2.2), so it may be replayed. */
    boolean idempotent() {
        HttpMethod m = request.method();
        return m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS || m == HttpMethod.PUT
               || m == HttpMethod.DELETE || m == HttpMethod.TRACE;
    }

    /** What the observer (metrics, access log) is told about this exchange, ending with {@code status}. */
    ExchangeObserver.ExchangeRecord record(String listener, InetSocketAddress client, int status) {
        return new ExchangeObserver.ExchangeRecord(
                listener, client, group == null ? null : group.name(),
                target == null || sentNanos == 0 ? null : target.id(), request.method().name(), request.uri(),
                protocol, request.headers().get(HttpHeaderNames.USER_AGENT), request.headers().get(X_REQUEST_ID),
                startMillis, startNanos, sentNanos, responseNanos, System.nanoTime(), status, targetStatus,
                bytesReceived, bytesSent, attempts,
                request instanceof DecodedRequest d ? d.desyncClass() : null);
    }
}
