package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FramingTest {

    @Test
    void contentLength() {
        assertEquals(0, cl("0"));
        assertEquals(5, cl("005"));
        assertEquals(5, cl("5, 5"));
        assertEquals(5, cl("5,5 ,\t5"));
        assertEquals(Long.MAX_VALUE, cl("9223372036854775807"));
        assertEquals(Framing.INVALID, cl("9223372036854775808"));
        assertEquals(Framing.INVALID, cl("99999999999999999999"));
        assertEquals(Framing.INVALID, cl(""));
        assertEquals(Framing.INVALID, cl("+5"));
        assertEquals(Framing.INVALID, cl("-5"));
        assertEquals(Framing.INVALID, cl("5,"));
        assertEquals(Framing.INVALID, cl(",5"));
        assertEquals(Framing.INVALID, cl("5 5"));
        assertEquals(Framing.INVALID, cl("5.0"));
        assertEquals(Framing.INVALID, cl("0x5"));
        assertEquals(Framing.CONFLICTING, cl("5, 6"));
        assertEquals(Framing.CONFLICTING, cl("6, 5, 6"));
    }

    @Test
    void transferEncoding() {
        assertEquals(Framing.LAST_IS_CHUNKED, te("chunked", false));
        assertEquals(Framing.LAST_IS_CHUNKED, te("Chunked", false));
        assertEquals(Framing.LAST_IS_CHUNKED, te("gzip, chunked", false));
        assertEquals(Framing.LAST_IS_CHUNKED, te(", ,gzip;level=1 ,\tchunked,", false));
        assertEquals(Framing.LAST_IS_CHUNKED, te("chunked", false));
        assertEquals(Framing.LAST_IS_OTHER, te("gzip", false));
        assertEquals(Framing.LAST_IS_OTHER, te("", false));
        assertEquals(Framing.CHUNKED_NOT_LAST, te("chunked, gzip", false));
        assertEquals(Framing.CHUNKED_NOT_LAST, te("gzip", true));
        assertEquals(Framing.CHUNKED_TWICE, te("chunked, chunked", false));
        assertEquals(Framing.CHUNKED_TWICE, te("chunked", true));
        assertEquals(Framing.LAST_IS_OTHER, te("xchunked", false));
        assertEquals(Framing.LAST_IS_OTHER, te("chunkedx", false));
        // Parameters on chunked frame as chunked; the count tells the decoder to remove them.
        int[] elements = new int[2];
        assertEquals(Framing.LAST_IS_CHUNKED, Framing.transferEncoding(AsciiString.of("gzip;a=1, chunked;q=1"), false, elements));
        assertEquals(2, elements[0]);
        assertEquals(1, elements[1]);
        assertEquals("gzip, chunked, deflate, chunked",
                Framing.withoutParameters(java.util.List.of("gzip;a=1 , chunked;q=1;", "\tdeflate,, chunked ; x")));
        assertEquals(Framing.MALFORMED, te("chun ked", false));
        assertEquals(Framing.MALFORMED, te("\"chunked\"", false));
        assertEquals(Framing.MALFORMED, te("chunked/1", false));
    }

    @Test
    void lettersAndHosts() {
        assertTrue(Bytes.resemblesFramingName("Transfer_Encoding".getBytes(), false));
        assertTrue(Bytes.resemblesFramingName("TRANSFER-ENCODING-".getBytes(), false));
        assertFalse(Bytes.resemblesFramingName("Transfer-Encodings".getBytes(), false));
        // Names that are not tokens: letters may follow, and UTF-8 long s / dotless i count.
        assertTrue(Bytes.resemblesFramingName("Transfer-Encoding x".getBytes(), true));
        assertFalse(Bytes.resemblesFramingName("Transfer-Encoding x".getBytes(), false));
        assertTrue(Bytes.resemblesFramingName("Tran\u017ffer-Encod\u0131ng".getBytes(StandardCharsets.UTF_8), false));
        assertTrue(Bytes.resemblesFramingName("\u00a0Content-Length".getBytes(StandardCharsets.UTF_8), false));
        assertFalse(Bytes.resemblesFramingName("Content-Type".getBytes(), true));
        assertTrue(Bytes.isHostValue(AsciiString.of("example.com:8080")));
        assertTrue(Bytes.isHostValue(AsciiString.of("[2001:db8::1]")));
        assertTrue(Bytes.isHostValue(AsciiString.of("")));
        assertFalse(Bytes.isHostValue(AsciiString.of("a/b")));
        assertFalse(Bytes.isHostValue(AsciiString.of("u@a")));
        assertTrue(Bytes.sameAuthority(AsciiString.of("Example.com:80"), AsciiString.of("example.COM"), 80));
        assertFalse(Bytes.sameAuthority(AsciiString.of("example.com:443"), AsciiString.of("example.com"), 80));
    }

    private static long cl(String value) {
        return Framing.contentLength(AsciiString.of(value));
    }

    private static int te(String value, boolean chunkedSoFar) {
        return Framing.transferEncoding(AsciiString.of(value), chunkedSoFar, new int[2]);
    }
}
