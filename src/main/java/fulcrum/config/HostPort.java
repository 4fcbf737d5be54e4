package fulcrum.config;

import java.net.InetSocketAddress;

/** A "host:port" as written in the configuration: "127.0.0.1:3000", "chat:3000", "[::1]:8080". */
public record HostPort(String host, int port) {

    public HostPort {
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not between 0 and 65535");
        }
    }

    /** Parses "host:port" with a port from 1 to 65535; the message of the exception says what is wrong. */
    public static HostPort parse(String s) {
        HostPort hp = parseBind(s);
        if (hp.port == 0) {
            throw new IllegalArgumentException("port 0 is not between 1 and 65535");
        }
        return hp;
    }

    /** As {@link #parse}, also taking port 0: a listener bound to it gets an ephemeral port. */
    public static HostPort parseBind(String s) {
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException("empty address");
        }
        String host;
        String port;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("an IPv6 address is written [addr]:port");
            }
            host = s.substring(1, close);
            port = s.substring(close + 2);
        } else {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("no port");
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                throw new IllegalArgumentException("an IPv6 address is written [addr]:port");
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("no host");
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (c <= ' ' || c == '/' || c == '@' || c >= 0x7f) {
                throw new IllegalArgumentException("'" + host + "' is not a host name or address");
            }
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + port + "' is not a port number");
        }
        if (p < 0 || p > 65535) {
            throw new IllegalArgumentException("port " + p + " is not between 1 and 65535");
        }
        return new HostPort(host, p);
    }

    /** An unresolved socket address; it is resolved where it is used. */
    public InetSocketAddress toUnresolved() {
        return InetSocketAddress.createUnresolved(host, port);
    }

    @Override
    public String toString() {
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
}
