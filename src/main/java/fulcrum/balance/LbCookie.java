package fulcrum.balance;

import fulcrum.config.StickinessSettings;
import io.netty.util.concurrent.FastThreadLocal;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;

import static java.util.Objects.requireNonNull;

/**
 * The balancer's sticky cookie. Its value is {@code base64url(expiry | token | mac)}: the target
 * token is a keyed hash of the target id (opaque: the address never appears), the expiry makes
 * old cookies stale, and the MAC makes both tamper-proof. Nothing is kept per client, so every
 * instance given the same key honours every other instance's cookies.
 */
public final class LbCookie {
    static final int TOKEN_BYTES = 8;
    private static final int EXPIRY_BYTES = 5;
    private static final int MAC_BYTES = 12;
    private static final int RAW_BYTES = EXPIRY_BYTES + TOKEN_BYTES + MAC_BYTES;
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private final String name;
    private final long maxAgeSeconds;
    private final String attributes;
    private final boolean sameSiteNone;
    private final SecretKeySpec key;
    private final FastThreadLocal<Mac> macs = new FastThreadLocal<>() {
        @Override
        protected Mac initialValue() throws GeneralSecurityException {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac;
        }
    };

    public LbCookie(StickinessSettings settings, byte[] secret) {
        requireNonNull(settings, "settings");
        requireNonNull(secret, "secret");
        this.name = settings.cookieName();
        this.maxAgeSeconds = Math.max(1, settings.duration().toSeconds());
        this.attributes = "; Path=/; Max-Age=" + maxAgeSeconds + "; HttpOnly; SameSite=" + settings.sameSite();
        this.sameSiteNone = settings.sameSite().equals("None");
        this.key = new SecretKeySpec(secret, "HmacSHA256");
    }

    public String name() {
        return name;
    }

    /** The opaque token a cookie carries for the target with this id. */
    byte[] tokenFor(String targetId) {
        byte[] full = mac().doFinal(("target:" + targetId).getBytes(StandardCharsets.UTF_8));
        return java.util.Arrays.copyOf(full, TOKEN_BYTES);
    }

    /** A {@code Set-Cookie} value that sends this client to {@code target}. */
    public String setCookie(Target target, boolean secure, long nowMillis) {
        byte[] raw = new byte[RAW_BYTES];
        long expiry = nowMillis / 1000 + maxAgeSeconds;
        for (int i = 0; i < EXPIRY_BYTES; i++) {
            raw[i] = (byte) (expiry >>> (8 * (EXPIRY_BYTES - 1 - i)));
        }
        System.arraycopy(target.cookieToken(), 0, raw, EXPIRY_BYTES, TOKEN_BYTES);
        Mac mac = mac();
        mac.update(raw, 0, EXPIRY_BYTES + TOKEN_BYTES);
        byte[] sig = mac.doFinal();
        System.arraycopy(sig, 0, raw, EXPIRY_BYTES + TOKEN_BYTES, MAC_BYTES);
        String value = name + "=" + ENCODER.encodeToString(raw) + attributes;
        return secure || sameSiteNone ? value + "; Secure" : value;
    }

    /**
     * Reads this balancer's cookie from the request's {@code Cookie} headers. A missing, forged,
     * stale or unknown cookie gives {@link Match#NONE}: never an error, the client just gets a
     * new one.
     */
    public Match match(List<String> cookieHeaders, Snapshot snapshot, long nowMillis) {
        for (int i = 0; i < cookieHeaders.size(); i++) {
            String value = find(cookieHeaders.get(i), name);
            if (value != null) {
                return decode(value, snapshot, nowMillis);
            }
        }
        return Match.NONE;
    }

    private Match decode(String value, Snapshot snapshot, long nowMillis) {
        byte[] raw;
        try {
            raw = DECODER.decode(value);
        } catch (IllegalArgumentException e) {
            return Match.NONE;
        }
        if (raw.length != RAW_BYTES) {
            return Match.NONE;
        }
        Mac mac = mac();
        mac.update(raw, 0, EXPIRY_BYTES + TOKEN_BYTES);
        byte[] sig = mac.doFinal();
        if (!MessageDigest.isEqual(java.util.Arrays.copyOf(sig, MAC_BYTES),
                                   java.util.Arrays.copyOfRange(raw, EXPIRY_BYTES + TOKEN_BYTES, RAW_BYTES))) {
            return Match.NONE;
        }
        long expiry = 0;
        for (int i = 0; i < EXPIRY_BYTES; i++) {
            expiry = (expiry << 8) | (raw[i] & 0xff);
        }
        long remaining = expiry - nowMillis / 1000;
        if (remaining <= 0) {
            return Match.NONE;
        }
        Target t = snapshot.byCookieToken(raw, EXPIRY_BYTES);
        if (t == null) {
            return Match.NONE;
        }
        // Past half its life the cookie is renewed, so an active session never expires midway.
        return new Match(t, remaining < maxAgeSeconds / 2);
    }

    /** The value of cookie {@code name} in one Cookie header, or null. */
    public static String find(String header, String name) {
        int n = name.length();
        int i = 0;
        int len = header.length();
        while (i < len) {
            while (i < len && (header.charAt(i) == ' ' || header.charAt(i) == ';' || header.charAt(i) == '\t')) {
                i++;
            }
            int end = header.indexOf(';', i);
            if (end < 0) {
                end = len;
            }
            if (end - i > n && header.charAt(i + n) == '=' && header.regionMatches(i, name, 0, n)) {
                String v = header.substring(i + n + 1, end).trim();
                if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                    v = v.substring(1, v.length() - 1);
                }
                return v;
            }
            i = end + 1;
        }
        return null;
    }

    private Mac mac() {
        return macs.get();
    }

    /** What a request's cookie says: its target (null when none is valid), and whether to renew it. */
    public record Match(Target target, boolean renew) {
        public static final Match NONE = new Match(null, false);
    }
}
