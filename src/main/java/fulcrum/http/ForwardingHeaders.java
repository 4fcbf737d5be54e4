package fulcrum.http;

import fulcrum.config.Cidr;
import fulcrum.config.ForwardedHeadersSettings;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Rewrites message heads as they cross the proxy: hop-by-hop headers (the {@link HopByHop}
 * table, the same for both directions) stay on their own connection, and the backend is told who
 * the client is.
 */
public final class ForwardingHeaders {
    private static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    private static final AsciiString X_FORWARDED_PORT = AsciiString.cached("x-forwarded-port");
    private static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
    private static final AsciiString FORWARDED = AsciiString.cached("forwarded");
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private final ForwardedHeadersSettings settings;
    // AsciiString: the request encoder copies their bytes instead of encoding characters.
    private final AsciiString proto;
    private final AsciiString port;

    public ForwardingHeaders(ForwardedHeadersSettings settings, boolean tls, int listenerPort) {
        this.settings = settings;
        this.proto = AsciiString.cached(tls ? "https" : "http");
        this.port = AsciiString.cached(Integer.toString(listenerPort));
    }

    /**
     * Prepares a client's request for the backend, in place. The backend is always spoken to in
     * HTTP/1.1 so its connection can be kept alive whatever the client speaks.
     *
     * @param ip the client's address as {@link #clientText} writes it (made once per connection)
     */
    public void request(HttpRequest request, InetSocketAddress client, String ip, boolean upgrade) {
        HttpHeaders h = request.headers();
        HopByHop.strip(h, upgrade);
        if (upgrade) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        }
        if (request.protocolVersion() != HttpVersion.HTTP_1_1) {
            request.setProtocolVersion(HttpVersion.HTTP_1_1);
        }
        if (!h.contains(HttpHeaderNames.HOST)) {
            // An HTTP/1.1 request without Host gets 400 from a strict server (RFC 9112 3.2); a
            // client with no authority to name sends it empty.
            h.set(HttpHeaderNames.HOST, "");
        }
        switch (settings.xForwardedFor()) {
            case APPEND -> {
                String prior = h.get(X_FORWARDED_FOR);
                if (prior == null || !trusted(client)) {
                    h.set(X_FORWARDED_FOR, ip);
                } else {
                    h.set(X_FORWARDED_FOR, prior + ", " + ip);
                }
            }
            case REPLACE -> h.set(X_FORWARDED_FOR, ip);
            case REMOVE -> h.remove(X_FORWARDED_FOR);
        }
        h.set(X_FORWARDED_PROTO, proto);
        h.set(X_FORWARDED_PORT, port);
        if (settings.forwarded()) {
            String entry = "for=" + (ip.indexOf(':') >= 0 ? "\"[" + ip + "]\"" : ip) + ";proto=" + proto;
            String prior = trusted(client) ? h.get(FORWARDED) : null;
            h.set(FORWARDED, prior == null ? entry : prior + ", " + entry);
        }
        if (settings.requestId() && !h.contains(X_REQUEST_ID)) {
            h.set(X_REQUEST_ID, newRequestId());
        }
    }

    /** Prepares a backend's response head for the client, in place. */
    public static void response(HttpResponse response, boolean upgrade) {
        HopByHop.strip(response.headers(), upgrade);
    }

    /**
     * A client's own forwarding headers are believed only when it is a trusted proxy; with no
     * trusted proxies configured, every client is (ALB's append behaviour).
     */
    private boolean trusted(InetSocketAddress client) {
        List<Cidr> proxies = settings.trustedProxies();
        if (proxies.isEmpty()) {
            return true;
        }
        if (client == null || client.getAddress() == null) {
            return false;
        }
        for (Cidr c : proxies) {
            if (c.contains(client.getAddress())) {
                return true;
            }
        }
        return false;
    }

    /** The client's address as forwarding headers write it: no zone, "unknown" when there is none. */
    public static String clientText(InetSocketAddress client) {
        return client == null ? "unknown" : addressText(client.getAddress());
    }

    static String addressText(InetAddress a) {
        if (a == null) {
            return "unknown";
        }
        String s = a.getHostAddress();
        int zone = s.indexOf('%');
        return zone < 0 ? s : s.substring(0, zone);
    }

    private static AsciiString newRequestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long hi = r.nextLong();
        long lo = r.nextLong();
        byte[] c = new byte[32];
        for (int i = 0; i < 16; i++) {
            c[15 - i] = HEX[(int) (hi >>> (4 * i)) & 0xf];
            c[31 - i] = HEX[(int) (lo >>> (4 * i)) & 0xf];
        }
        return new AsciiString(c, false);
    }
}
