package fulcrum.balance;

import fulcrum.config.StickinessSettings;

import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * The balancer's sticky cookie for a target group: a {@link SignedCookie} whose token stands for
 * a target (a keyed hash of its id: the address never appears in it).
 */
public final class LbCookie {
    private final SignedCookie cookie;

    public LbCookie(StickinessSettings settings, byte[] secret) {
        requireNonNull(settings, "settings");
        this.cookie = new SignedCookie(settings.cookieName(), settings.duration(), settings.sameSite(), secret);
    }

    public String name() {
        return cookie.name();
    }

    /** The opaque token a cookie carries for the target with this id. */
    long tokenFor(String targetId) {
        return cookie.token("target:" + targetId);
    }

    /** A {@code Set-Cookie} value that sends this client to {@code target}. */
    public String setCookie(Target target, boolean secure, long nowMillis) {
        return cookie.setCookie(target.cookieToken(), secure, nowMillis);
    }

    /**
     * Reads this balancer's cookie from the request's {@code Cookie} headers. A missing, forged,
     * stale or unknown cookie gives {@link Match#NONE}: never an error, the client just gets a
     * new one.
     */
    public Match match(List<String> cookieHeaders, Snapshot snapshot, long nowMillis) {
        SignedCookie.Read read = cookie.read(cookieHeaders.iterator(), nowMillis);
        if (read == null) {
            return Match.NONE;
        }
        Target t = snapshot.byCookieToken(read.token());
        return t == null ? Match.NONE : new Match(t, read.renew());
    }

    /** What a request's cookie says: its target (null when none is valid), and whether to renew it. */
    public record Match(Target target, boolean renew) {
        public static final Match NONE = new Match(null, false);
    }
}
