package fulcrum.routing;

import fulcrum.balance.LbCookie;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
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

/**
 * The cookie of group-level stickiness: which target group of a weighted forward a client's
 * session started in. Built like {@link LbCookie}: {@code base64url(expiry | token | mac)}, the
 * token an opaque keyed hash of the group name, the MAC over both.
 */
final class GroupCookie {
    /** Added to a matched group's index when the cookie is past half its life and should be renewed. */
    static final int RENEW = 1 << 16;
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

    GroupCookie(String name, Duration maxAge, byte[] secret, boolean secure) {
        this.name = name;
        this.maxAgeSeconds = Math.max(1, maxAge.toSeconds());
        this.attributes = "; Path=/; Max-Age=" + maxAgeSeconds + "; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
        this.key = new SecretKeySpec(secret, "HmacSHA256");
    }

    /** The opaque token a cookie carries for {@code group}. */
    long token(String group) {
        return bits(macs.get().doFinal(("group:" + group).getBytes(StandardCharsets.UTF_8)), 0);
    }

    /** A Set-Cookie value that keeps the client in the group with {@code token}. */
    String setCookie(long token, long nowMillis) {
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
        return name + "=" + ENCODER.encodeToString(raw) + attributes;
    }

    /**
     * The index in {@code tokens} of the group the request's cookie names (plus {@link #RENEW}
     * when it should be renewed), or -1 when it has no valid cookie for any of them.
     */
    int match(HttpHeaders headers, long[] tokens, long nowMillis) {
        Iterator<String> it = headers.valueStringIterator(HttpHeaderNames.COOKIE);
        while (it.hasNext()) {
            String value = LbCookie.find(it.next(), name);
            if (value != null) {
                return decode(value, tokens, nowMillis);
            }
        }
        return -1;
    }

    private int decode(String value, long[] tokens, long nowMillis) {
        byte[] raw;
        try {
            raw = DECODER.decode(value);
        } catch (IllegalArgumentException e) {
            return -1;
        }
        if (raw.length != RAW_BYTES) {
            return -1;
        }
        Mac mac = macs.get();
        mac.update(raw, 0, EXPIRY_BYTES + TOKEN_BYTES);
        byte[] sig = mac.doFinal();
        if (!MessageDigest.isEqual(Arrays.copyOf(sig, MAC_BYTES), Arrays.copyOfRange(raw, EXPIRY_BYTES + TOKEN_BYTES,
                                                                                        RAW_BYTES))) {
            return -1;
        }
        long expiry = 0;
        for (int i = 0; i < EXPIRY_BYTES; i++) {
            expiry = (expiry << 8) | (raw[i] & 0xff);
        }
        long remaining = expiry - nowMillis / 1000;
        if (remaining <= 0) {
            return -1;
        }
        long token = bits(raw, EXPIRY_BYTES);
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == token) {
                return remaining < maxAgeSeconds / 2 ? i + RENEW : i;
            }
        }
        return -1;
    }

    private static long bits(byte[] b, int offset) {
        long v = 0;
        for (int i = 0; i < TOKEN_BYTES; i++) {
            v = (v << 8) | (b[offset + i] & 0xff);
        }
        return v;
    }
}
