package fulcrum.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.util.AsciiString;
import io.netty.util.ByteProcessor;
import java.nio.charset.StandardCharsets;

/**
 * Byte classes of RFC 9110/9112, as {@link ByteProcessor}s so that a whole field is checked in
 * one {@code forEachByte} loop (which stops at the first byte that does not belong).
 */
final class Bytes {
    static final byte CR = '\r';
    static final byte LF = '\n';
    static final byte SP = ' ';
    static final byte HTAB = '\t';

    private static final boolean[] TCHAR = new boolean[256];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = true;
            TCHAR[c - 'a' + 'A'] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
    }

    /** token characters (RFC 9110 5.6.2): method names and field names. */
    static final ByteProcessor TOKEN = b -> TCHAR[b & 0xff];

    /**
     * Visible ASCII, what a request target is made of (RFC 3986 has no raw whitespace, controls
     * or bytes above 0x7E). The decoder's slow path also takes SP and obs-text.
     */
    static final ByteProcessor TARGET = b -> b > 0x20 && b < 0x7f;

    /** {@link #TARGET} as a table over 0..127. */
    static final boolean[] TARGET_TABLE = new boolean[128];

    static {
        for (int i = 0x21; i < 0x7f; i++) {
            TARGET_TABLE[i] = true;
        }
    }

    /**
     * Field value bytes: VCHAR, obs-text (negative as a Java byte), SP and HTAB. Everything else
     * is a control byte (NUL, CR, LF, VT, DEL...) which RFC 9110 5.5 calls invalid and dangerous.
     */
    static final ByteProcessor FIELD_VALUE = b -> b >= 0x20 ? b != 0x7f : b < 0 || b == HTAB;

    private Bytes() {
    }

    static boolean isToken(byte b) {
        return TCHAR[b & 0xff];
    }

    static boolean isOws(byte b) {
        return b == SP || b == HTAB;
    }

    static boolean isControl(byte b) {
        return !FIELD_VALUE_TABLE[b & 0xff];
    }

    private static final boolean[] FIELD_VALUE_TABLE = new boolean[256];

    static {
        for (int i = 0; i < 256; i++) {
            byte b = (byte) i;
            FIELD_VALUE_TABLE[i] = b >= 0x20 ? b != 0x7f : b < 0 || b == HTAB;
        }
    }

    /** The value of a hexadecimal digit, or -1. */
    static int hex(byte b) {
        if (b >= '0' && b <= '9') {
            return b - '0';
        }
        if (b >= 'a' && b <= 'f') {
            return b - 'a' + 10;
        }
        if (b >= 'A' && b <= 'F') {
            return b - 'A' + 10;
        }
        return -1;
    }

    /** How a control byte is named in a rejection reason; the byte itself never goes to logs. */
    static String describeControl(byte b) {
        return switch (b) {
            case 0 -> "NUL";
            case CR -> "bare CR";
            case LF -> "bare LF";
            case 0x0b -> "vertical tab";
            case 0x0c -> "form feed";
            case 0x7f -> "DEL";
            default -> "control byte";
        };
    }

    /**
     * Whether a name is a framing header's letters with other bytes around or between them, as a
     * parser that skips or folds odd bytes could read it (http_desync_guardian's SameLetters).
     * The UTF-8 long s and dotless i count as s and i: some parsers upper-case them to ASCII.
     *
     * @param prefix whether letters may follow ("Transfer-Encoding x": some parsers stop at the space)
     */
    static boolean resemblesFramingName(byte[] name, boolean prefix) {
        return sameLetters(name, "transferencoding", prefix) || sameLetters(name, "contentlength", prefix);
    }

    private static boolean sameLetters(byte[] name, String letters, boolean prefix) {
        int j = 0;
        for (int i = 0; i < name.length; i++) {
            byte b = name[i];
            int lower = b | 0x20;
            if (b == (byte) 0xc5 && i + 1 < name.length && name[i + 1] == (byte) 0xbf) {
                lower = 's';
                i++;
            } else if (b == (byte) 0xc4 && i + 1 < name.length && name[i + 1] == (byte) 0xb1) {
                lower = 'i';
                i++;
            } else if (lower < 'a' || lower > 'z') {
                continue;
            }
            if (j == letters.length()) {
                return prefix;
            }
            if (letters.charAt(j++) != lower) {
                return false;
            }
        }
        return j == letters.length();
    }

    /** Whether the bytes spell Content-Length, Transfer-Encoding or Host, in any case. */
    static boolean isFramingOrHost(ByteBuf in, int start, int length) {
        return equalsIgnoreCase(in, start, length, HttpHeaderNames.CONTENT_LENGTH)
                || equalsIgnoreCase(in, start, length, HttpHeaderNames.TRANSFER_ENCODING)
                || equalsIgnoreCase(in, start, length, HttpHeaderNames.HOST);
    }

    private static boolean equalsIgnoreCase(ByteBuf in, int start, int length, AsciiString lowerName) {
        if (length != lowerName.length()) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            if ((in.getByte(start + i) | 0x20) != lowerName.byteAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the bytes at {@code start} spell {@code name} exactly (case-sensitive). */
    static boolean spells(AsciiString name, ByteBuf in, int start) {
        for (int i = 0; i < name.length(); i++) {
            if (name.byteAt(i) != in.getByte(start + i)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the bytes at {@code start} spell {@code name} exactly (case-sensitive). */
    static boolean spells(AsciiString name, byte[] in, int start) {
        for (int i = 0; i < name.length(); i++) {
            if (name.byteAt(i) != in[start + i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether the bytes at {@code start} spell {@code lowerName} in any case (ASCII letters). */
    static boolean spellsIgnoringCase(AsciiString lowerName, byte[] in, int start) {
        for (int i = 0; i < lowerName.length(); i++) {
            byte b = in[start + i];
            if (b >= 'A' && b <= 'Z') {
                b += 'a' - 'A';
            }
            if (lowerName.byteAt(i) != b) {
                return false;
            }
        }
        return true;
    }

    /**
     * A request target's bytes as the String the request carries. Netty's encoder writes it
     * back as UTF-8, so raw UTF-8 reaches the backend byte for byte; other bytes above 0x7F
     * (Latin-1 and the like) would not survive that, and go percent-encoded instead.
     */
    static String targetText(ByteBuf in, int start, int length) {
        if (in.forEachByte(start, length, b -> b >= 0) < 0) {
            return in.toString(start, length, StandardCharsets.US_ASCII);
        }
        String utf8 = in.toString(start, length, StandardCharsets.UTF_8);
        if (utf8.indexOf('\uFFFD') < 0) {
            return utf8;
        }
        StringBuilder s = new StringBuilder(length + 16);
        for (int i = start; i < start + length; i++) {
            int b = in.getByte(i) & 0xff;
            if (b < 0x80) {
                s.append((char) b);
            } else {
                s.append('%').append(HEX_DIGITS[b >> 4]).append(HEX_DIGITS[b & 0xf]);
            }
        }
        return s.toString();
    }

    private static final char[] HEX_DIGITS = "0123456789ABCDEF".toCharArray();

    private static final boolean[] HOST = new boolean[256];

    static {
        for (char c = '0'; c <= '9'; c++) {
            HOST[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            HOST[c] = true;
            HOST[c - 'a' + 'A'] = true;
        }
        // unreserved, sub-delims, pct-encoded, port separator and IP-literal brackets (RFC 3986)
        for (char c : "-._~%!$&'()*+,;=:[]".toCharArray()) {
            HOST[c] = true;
        }
    }

    /** Host = uri-host [ ":" port ]; empty is allowed (RFC 9110 7.2, a target without authority). */
    static boolean isHostValue(AsciiString value) {
        byte[] a = value.array();
        for (int i = value.arrayOffset(), end = i + value.length(); i < end; i++) {
            if (!HOST[a[i] & 0xff]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether a Host names the same authority as an absolute-form target: host names compare
     * without case (RFC 3986 6.2.2.1) and the scheme's default port may be left out (6.2.3).
     */
    static boolean sameAuthority(AsciiString authority, AsciiString host, int defaultPort) {
        return withoutPort(authority, defaultPort).contentEqualsIgnoreCase(withoutPort(host, defaultPort));
    }

    private static AsciiString withoutPort(AsciiString authority, int defaultPort) {
        String suffix = ":" + defaultPort;
        if (authority.length() > suffix.length() && authority.endsWith(suffix)) {
            return authority.subSequence(0, authority.length() - suffix.length(), false);
        }
        return authority;
    }
}
