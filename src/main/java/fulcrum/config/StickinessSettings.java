package fulcrum.config;

import java.time.Duration;

/** How a target group keeps a client's session on one target. */
public record StickinessSettings(boolean enabled, Type type, String cookieName, Duration duration,
                                 String secret, String sameSite, int maxSessions, boolean forwardCookie) {

    public enum Type {
        /** The balancer's own signed cookie. */
        LB_COOKIE,
        /** Engine.IO session ids learnt from handshakes; no cookie needed. */
        ENGINE_IO,
        /** Both: the cookie when the client keeps one, the Engine.IO sid otherwise. */
        LB_COOKIE_AND_ENGINE_IO
    }

    static StickinessSettings from(Reader r) {
        String cookieName = r.string("cookie-name");
        if (!isToken(cookieName)) {
            throw r.error("cookie-name", cookieName, "a cookie name (letters, digits, - _ .)");
        }
        String sameSite = r.string("same-site");
        if (!sameSite.equals("Lax") && !sameSite.equals("Strict") && !sameSite.equals("None")) {
            throw r.error("same-site", sameSite, "one of Lax, Strict, None");
        }
        String secret = r.optionalString("secret");
        if (secret != null && secret.length() < 16) {
            throw r.error("secret", "(" + secret.length() + " characters)", "at least 16 characters");
        }
        return new StickinessSettings(r.bool("enabled"), r.enumeration("type", Type.class), cookieName,
                                      r.duration("duration", false), secret, sameSite,
                                      r.integer("max-sessions", 1, 100_000_000), r.bool("forward-cookie"));
    }

    static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(Character.isLetterOrDigit(c) && c < 0x80) && c != '-' && c != '_' && c != '.') {
                return false;
            }
        }
        return true;
    }

    public boolean usesCookie() {
        return enabled && type != Type.ENGINE_IO;
    }

    public boolean usesEngineIo() {
        return enabled && type != Type.LB_COOKIE;
    }
}
