package fulcrum.routing;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;

import java.net.InetSocketAddress;

/**
 * The parts of one request that rules look at, found on first use by scanning the request line
 * and Host header in place (no substrings until an action needs them).
 */
final class RequestFacts {
    final HttpRequest request;
    final InetSocketAddress client;
    final boolean tls;

    private String uri;
    private int pathStart = -1;
    private int pathEnd;
    private int queryStart;

    private String host;
    private boolean hostParsed;
    private int hostEnd;
    private int portStart;

    RequestFacts(HttpRequest request, InetSocketAddress client, boolean tls) {
        this.request = request;
        this.client = client;
        this.tls = tls;
    }

    String uri() {
        parseUri();
        return uri;
    }

    int pathStart() {
        parseUri();
        return pathStart;
    }

    int pathEnd() {
        parseUri();
        return pathEnd;
    }

    /** Index of the query's first character, or -1 when there is no '?'. */
    int queryStart() {
        parseUri();
        return queryStart;
    }

    /** The Host header (or the authority of an absolute-form URI); null when there is none. */
    String hostHeader() {
        parseHost();
        return host;
    }

    /** End of the host name in {@link #hostHeader()} (before any port). */
    int hostEnd() {
        parseHost();
        return hostEnd;
    }

    /** Start of the port in {@link #hostHeader()}, or -1 when it has none. */
    int portStart() {
        parseHost();
        return portStart;
    }

    private void parseUri() {
        if (pathStart >= 0) {
            return;
        }
        uri = request.uri();
        int start = 0;
        if (!uri.startsWith("/")) {
            int scheme = uri.indexOf("://");
            if (scheme >= 0) {
                int slash = uri.indexOf('/', scheme + 3);
                int q = uri.indexOf('?', scheme + 3);
                start = slash >= 0 && (q < 0 || slash < q) ? slash : q >= 0 ? q : uri.length();
            }
        }
        int q = uri.indexOf('?', start);
        pathStart = start;
        pathEnd = q < 0 ? uri.length() : q;
        queryStart = q < 0 ? -1 : q + 1;
    }

    private void parseHost() {
        if (hostParsed) {
            return;
        }
        hostParsed = true;
        String h = request.headers().get(HttpHeaderNames.HOST);
        if (h == null) {
            String u = uri();
            int scheme = u.indexOf("://");
            if (scheme >= 0) {
                h = u.substring(scheme + 3, pathStart);
            }
        }
        if (h == null) {
            return;
        }
        host = h;
        hostEnd = h.length();
        portStart = -1;
        int colon = h.lastIndexOf(':');
        if (colon >= 0 && h.indexOf(']', colon) < 0) {
            hostEnd = colon;
            portStart = colon + 1;
        }
    }
}
