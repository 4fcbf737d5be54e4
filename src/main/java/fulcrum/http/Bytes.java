package fulcrum.http;

import io.netty.util.ByteProcessor;

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
     * or bytes above 0x7E).
     */
    static final ByteProcessor TARGET = b -> b > 0x20 && b < 0x7f;

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
}
