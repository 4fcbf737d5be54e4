package fulcrum.diagnose;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/** What the diagnosis talks to: scheme, host, port, and the Engine.IO path (always ending in "/"). */
record Endpoint(boolean tls, String host, int port, String path) {

    /**
     * {@code url}: http, https, ws or wss. The Engine.IO path is {@code path} when given, else the
     * URL's own path when it has one, else {@code /socket.io/}.
     *
     * @throws IllegalArgumentException naming what is wrong, for a usage error
     */
    static Endpoint parse(String url, String path) {
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a URL: " + url);
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        boolean tls = switch (scheme) {
            case "http", "ws" -> false;
            case "https", "wss" -> true;
            default -> throw new IllegalArgumentException("URL " + url + ": expected http://, https://, ws:// or wss://");
        };
        if (u.getHost() == null) {
            throw new IllegalArgumentException("URL " + url + ": no host");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null) {
            throw new IllegalArgumentException("URL " + url + ": no query or fragment expected (use --header for credentials)");
        }
        String p = path != null ? path
                : u.getRawPath() == null || u.getRawPath().isEmpty() || u.getRawPath().equals("/") ? "/socket.io/"
                : u.getRawPath();
        if (!p.startsWith("/") || p.contains("?") || p.contains(" ")) {
            throw new IllegalArgumentException("path " + p + ": expected an absolute path such as /socket.io/");
        }
        if (!p.endsWith("/")) {
            p = p + "/";
        }
        String host = u.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = u.getPort() != -1 ? u.getPort() : tls ? 443 : 80;
        return new Endpoint(tls, host, port, p);
    }

    boolean hostIsAddress() {
        return host.contains(":") || host.matches("[0-9.]+");
    }

    /** The Host field: the port only when it is not the scheme's default. */
    String authority() {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return port == (tls ? 443 : 80) ? h : h + ":" + port;
    }

    String origin() {
        return (tls ? "https://" : "http://") + authority();
    }

    @Override
    public String toString() {
        return origin() + path;
    }
}
