package fulcrum.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The admin API's listener. A token is required unless it is bound to a loopback address.
 * {@code bindChosen}: whether {@code bind} was set by the user rather than left at its default.
 */
public record AdminSettings(boolean enabled, HostPort bind, String token, boolean bindChosen) {

    static AdminSettings from(Reader r) {
        boolean enabled = r.bool("enabled");
        HostPort bind;
        try {
            bind = HostPort.parseBind(r.string("bind"));
        } catch (IllegalArgumentException e) {
            throw r.error("bind", r.string("bind"), "\"host:port\": " + e.getMessage());
        }
        String token = r.optionalString("token");
        if (token != null && token.length() < 16) {
            throw r.error("token", "(" + token.length() + " characters)", "at least 16 characters");
        }
        if (enabled && token == null && !loopback(bind.host())) {
            throw r.error("token", "null", "a token when the admin API binds " + bind
                                           + ", which is not a loopback address");
        }
        // The default comes from reference.conf (a classpath resource); anything else was chosen.
        boolean chosen = !"reference.conf".equals(r.origin("bind").resource());
        return new AdminSettings(enabled, bind, token, chosen);
    }

    /** Whether {@code host} names only loopback addresses; names that do not resolve are not. */
    static boolean loopback(String host) {
        if (host.equals("localhost")) {
            return true;
        }
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return "AdminSettings[enabled=" + enabled + ", bind=" + bind + ", token=" + (token == null ? "null" : "***")
               + ", bindChosen=" + bindChosen + "]";
    }
}
