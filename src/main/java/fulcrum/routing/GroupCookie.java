package fulcrum.routing;

import fulcrum.balance.CookieHeaders;
import fulcrum.balance.SignedCookie;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

import java.time.Duration;

/**
 * The cookie of group-level stickiness: which target group of a weighted forward a client's
 * session started in. A {@link SignedCookie} whose token stands for a group name.
 */
final class GroupCookie {
    /** Added to a matched group's index when the cookie is past half its life and should be renewed. */
    static final int RENEW = 1 << 16;

    private final SignedCookie cookie;
    private final boolean secure;

    GroupCookie(String name, Duration maxAge, byte[] secret, boolean secure) {
        this.cookie = new SignedCookie(name, maxAge, "Lax", secret);
        this.secure = secure;
    }

    /** The opaque token a cookie carries for {@code group}. */
    long token(String group) {
        return cookie.token("group:" + group);
    }

    /** A Set-Cookie value that keeps the client in the group with {@code token}. */
    String setCookie(long token, long nowMillis) {
        return cookie.setCookie(token, secure, nowMillis);
    }

    /** Removes this cookie from the request's Cookie fields: the targets have no use for it. */
    void strip(HttpHeaders headers) {
        CookieHeaders.stripCookie(headers, cookie.name());
    }

    /**
     * The index in {@code tokens} of the group the request's cookie names (plus {@link #RENEW}
     * when it should be renewed), or -1 when it has no valid cookie for any of them.
     */
    int match(HttpHeaders headers, long[] tokens, long nowMillis) {
        SignedCookie.Read read = cookie.read(headers.valueStringIterator(HttpHeaderNames.COOKIE), nowMillis);
        if (read == null) {
            return -1;
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == read.token()) {
                return read.renew() ? i + RENEW : i;
            }
        }
        return -1;
    }
}
