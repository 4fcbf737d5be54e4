package fulcrum.balance;

import io.netty.util.concurrent.FastThreadLocal;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;

import static java.util.Objects.requireNonNull;

/**
 * A cookie the balancer signs: {@code base64url(expiry | token | mac)}. The token is a keyed
 * hash of what the cookie stands for (a target, a target group), so it is opaque; the expiry
 * makes old cookies stale; the MAC (HMAC-SHA256) makes both tamper-proof. Nothing is kept per
 * client, so every instance given the same key honours every other instance's cookies.
 */
public final class SignedCookie {
    private static final int EXPIRY_BYTES = 5;
    private static final int TOKEN_BYTES = 8;
    private static final int MAC_BYTES = 12;
    private static final int RAW_BYTES = EXPIRY_BYTES + TOKEN_BYTES + MAC_BYTES;
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private final String name;
    private final long maxAgeSeconds;
    private final String attributes;
    private final SecretKeySpec key;
    private final FastThreadLocal<Mac> macs = new FastThreadLocal<>() {
        @Override
        protected Mac initialValue() throws GeneralSecurityException {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac;
        }
    };

    /** {@code sameSite}: Lax, Strict or None (None implies Secure). */
    public SignedCookie(String name, Duration maxAge, String sameSite, byte[] secret) {
        this.name = requireNonNull(name, "name");
        this.maxAgeSeconds = Math.max(1, maxAge.toSeconds());
        String attrs = "; Path=/; Max-Age=" + maxAgeSeconds + "; HttpOnly; SameSite=" + sameSite;
        this.attributes = sameSite.equals("None") ? attrs + "; Secure" : attrs;
        this.key = new SecretKeySpec(requireNonNull(secret, "secret"), "HmacSHA256");
    }

    public String name() {
        return name;
    }

    /** The opaque token of {@code label}. */
    public long token(String label) {
        return bits(macs.get().doFinal(label.getBytes(StandardCharsets.UTF_8)), 0);
    }

    /** A {@code Set-Cookie} value carrying {@code token}; {@code secure} adds Secure (HTTPS listeners). */
    public String setCookie(long token, boolean secure, long nowMillis) {
        byte[] raw = new byte[RAW_BYTES];
        long expiry = nowMillis / 1000 + maxAgeSeconds;
        for (int i = 0; i < EXPIRY_BYTES; i++) {
            raw[i] = (byte) (expiry >>> (8 * (EXPIRY_BYTES - 1 - i)));
        }
        for (int i = 0; i < TOKEN_BYTES; i++) {
            raw[EXPIRY_BYTES + i] = (byte) (token >>> (8 * (TOKEN_BYTES - 1 - i)));
        }
        Mac mac = macs.get();
        mac.update(raw, 0, EXPIRY_BYTES + TOKEN_BYTES);
        System.arraycopy(mac.doFinal(), 0, raw, EXPIRY_BYTES + TOKEN_BYTES, MAC_BYTES);
        String value = name + "=" + ENCODER.encodeToString(raw) + attributes;
        return secure && !attributes.endsWith("; Secure") ? value + "; Secure" : value;
    }

    /**
     * This cookie in the request's {@code Cookie} header values, or null when it is missing,
     * forged, stale or malformed: never an error, the client just gets a new one.
     */
    public Read read(Iterator<String> cookieHeaders, long nowMillis) {
        while (cookieHeaders.hasNext()) {
            String value = find(cookieHeaders.next(), name);
            if (value != null) {
                return decode(value, nowMillis);
            }
        }
        return null;
    }

    /** A valid cookie: the token it carries, and whether it is past half its life (to be renewed). */
    public record Read(long token, boolean renew) {
    }

    private Read decode(String value, long nowMillis) {
        byte[] raw;
        try {
            raw = DECODER.decode(value);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (raw.length != RAW_BYTES) {
            return null;
        }
        Mac mac = macs.get();
        mac.update(raw, 0, EXPIRY_BYTES + TOKEN_BYTES);
        byte[] sig = mac.doFinal();
        if (!MessageDigest.isEqual(Arrays.copyOf(sig, MAC_BYTES),
                                   Arrays.copyOfRange(raw, EXPIRY_BYTES + TOKEN_BYTES, RAW_BYTES))) {
            return null;
        }
        long expiry = 0;
        for (int i = 0; i < EXPIRY_BYTES; i++) {
            expiry = (expiry << 8) | (raw[i] & 0xff);
        }
        long remaining = expiry - nowMillis / 1000;
        if (remaining <= 0) {
            return null;
        }
        // Past half its life the cookie is renewed, so an active session never expires midway.
        return new Read(bits(raw, EXPIRY_BYTES), remaining < maxAgeSeconds / 2);
    }

    /** The value of cookie {@code name} in one Cookie header, or null. */
    static String find(String header, String name) {
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

    private static long bits(byte[] b, int offset) {
        long v = 0;
        for (int i = 0; i < TOKEN_BYTES; i++) {
            v = (v << 8) | (b[offset + i] & 0xff);
        }
        return v;
    }
}
