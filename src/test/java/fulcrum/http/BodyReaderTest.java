package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shared body reader under both directions' policies, fed at every split point. */
class BodyReaderTest {
    /** The request decoder's policy (see its constructor). */
    private static final BodyReader.Policy REQUEST = new BodyReader.Policy(
            BodyReader.LineEnds.CRLF, BodyReader.ChunkExtensions.STRICT, 4096, 1024, 0);
    /** The response decoder's policy (see its constructor). */
    private static final BodyReader.Policy RESPONSE = new BodyReader.Policy(
            BodyReader.LineEnds.CRLF_OR_LF, BodyReader.ChunkExtensions.LENIENT, 8192, 1024, 0);
    private static final String NEXT = "NEXT MESSAGE";

    private static final String CHUNKED = "5;a=b;c=\"d e\"\r\nhello\r\n"
            + "6 ; q=1\r\n world\r\n"
            + "1a\r\n" + "x".repeat(26) + "\r\n"
            + "0;last\r\nX-Sum: 1\r\nX-Two:  two \r\n\r\n";

    @Test
    void chunkedWithExtensionsAndTrailersAtEverySplitPoint() {
        for (BodyReader.Policy policy : List.of(REQUEST, RESPONSE)) {
            String expected = "hello world" + "x".repeat(26) + " | X-Sum=1 X-Two=two | " + NEXT;
            for (String[] pieces : splits(CHUNKED + NEXT)) {
                assertEquals(expected, chunked(policy, pieces), policy + " " + String.join("|", pieces));
            }
        }
    }

    @Test
    void everyByteAlone() {
        for (BodyReader.Policy policy : List.of(REQUEST, RESPONSE)) {
            String s = CHUNKED + NEXT;
            String[] bytes = new String[s.length()];
            for (int i = 0; i < s.length(); i++) {
                bytes[i] = s.substring(i, i + 1);
            }
            assertEquals("hello world" + "x".repeat(26) + " | X-Sum=1 X-Two=two | " + NEXT, chunked(policy, bytes));
        }
    }

    @Test
    void noTrailers() {
        for (BodyReader.Policy policy : List.of(REQUEST, RESPONSE)) {
            for (String[] pieces : splits("3\r\nabc\r\n0\r\n\r\n" + NEXT)) {
                assertEquals("abc | - | " + NEXT, chunked(policy, pieces));
            }
        }
    }

    @Test
    void bareLfIsReadOnlyUnderTheResponsePolicy() {
        String lf = "5\nhello\n3;x\r\nabc\r\n0\nX-Sum: 1\n\n";
        for (String[] pieces : splits(lf + NEXT)) {
            assertEquals("helloabc | X-Sum=1 | " + NEXT, chunked(RESPONSE, pieces));
            assertTrue(chunked(REQUEST, pieces).startsWith("MALFORMED"), String.join("|", pieces));
        }
        assertEquals("MALFORMED chunked framing line not ended by CRLF",
                     chunked(REQUEST, new String[] {"0\r\nX: 1\n\r\n"}));
        assertEquals("MALFORMED chunk-size line not ended by CRLF", chunked(REQUEST, new String[] {"5\nhello\r\n"}));
    }

    @Test
    void bareCrIsRefusedUnderBothPoliciesAsSoonAsTheNextByteArrives() {
        for (BodyReader.Policy policy : List.of(REQUEST, RESPONSE)) {
            for (String bad : List.of("5;a\rb\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n",
                                      "5\r\nhello\r\n0\r\n\r\r\n")) {
                for (String[] pieces : splits(bad)) {
                    assertEquals("MALFORMED CR not followed by LF", chunked(policy, pieces),
                                 policy + " " + String.join("|", pieces));
                }
            }
            // A CR that is the last byte so far is waited on, not refused.
            BodyReader r = new BodyReader(policy, new Fields());
            r.chunked();
            ByteBuf in = Unpooled.copiedBuffer("5;a\r", StandardCharsets.ISO_8859_1);
            List<Object> out = new ArrayList<>();
            assertFalse(r.read(in, out));
            assertEquals(0, in.readerIndex());
            in.release();
        }
    }

    @Test
    void whatOnlyTheStrictPolicyRefuses() {
        for (String lenient : List.of("5 \r\nhello\r\n0\r\n\r\n", "5;\u0001\r\nhello\r\n0\r\n\r\n")) {
            assertEquals("hello | - | ", chunked(RESPONSE, new String[] {lenient}));
            assertTrue(chunked(REQUEST, new String[] {lenient}).startsWith("MALFORMED"), lenient);
        }
    }

    @Test
    void malformedFramingUnderBothPolicies() {
        for (BodyReader.Policy policy : List.of(REQUEST, RESPONSE)) {
            assertEquals("MALFORMED chunk size is not a hexadecimal number", chunked(policy, new String[] {"g\r\n"}));
            assertEquals("MALFORMED chunk size is not a hexadecimal number", chunked(policy, new String[] {"5x\r\n"}));
            assertEquals("MALFORMED chunk size overflows", chunked(policy, new String[] {"fffffffffffffffff\r\n"}));
            assertEquals("MALFORMED chunk data longer than its size", chunked(policy, new String[] {"2\r\nabc\r\n"}));
            assertEquals("MALFORMED chunk-size line too long",
                         chunked(policy, new String[] {"1;" + "a".repeat(policy.maxChunkLine())}));
            assertEquals("TRAILERS_TOO_LARGE header section too large",
                         chunked(policy, new String[] {"0\r\nX: " + "a".repeat(1100) + "\r\n\r\n"}));
        }
    }

    @Test
    void chunkedBodyLimit() {
        BodyReader.Policy limited = new BodyReader.Policy(
                BodyReader.LineEnds.CRLF, BodyReader.ChunkExtensions.STRICT, 4096, 1024, 8);
        assertEquals("BODY_TOO_LARGE body too large", chunked(limited, new String[] {"5\r\nhello\r\n4\r\n"}));
        assertEquals("hellohi | - | ", chunked(limited, new String[] {"5\r\nhello\r\n2\r\nhi\r\n0\r\n\r\n"}));
    }

    @Test
    void fixedLengthAndUntilClose() {
        for (String[] pieces : splits("0123456789" + NEXT)) {
            BodyReader r = new BodyReader(RESPONSE, new Fields());
            r.fixed(10);
            assertEquals("0123456789 | - | " + NEXT, feed(r, pieces));
        }
        BodyReader r = new BodyReader(RESPONSE, new Fields());
        r.untilClose();
        assertTrue(r.endsAtClose());
        ByteBuf in = Unpooled.copiedBuffer("abc", StandardCharsets.ISO_8859_1);
        List<Object> out = new ArrayList<>();
        assertFalse(r.read(in, out));
        in.writeBytes("def".getBytes(StandardCharsets.ISO_8859_1));
        assertTrue(r.closed(in, out));
        assertFalse(r.endsAtClose());
        assertEquals("abcdef | - | ", describe(out, in));
    }

    // ---- harness ----

    private static String chunked(BodyReader.Policy policy, String[] pieces) {
        BodyReader r = new BodyReader(policy, new Fields());
        r.chunked();
        return feed(r, pieces);
    }

    /** Feeds pieces as ByteToMessageDecoder would: into one cumulation, reading until stuck. */
    private static String feed(BodyReader r, String[] pieces) {
        ByteBuf in = Unpooled.buffer();
        List<Object> out = new ArrayList<>();
        try {
            boolean done = false;
            for (String piece : pieces) {
                in.writeBytes(piece.getBytes(StandardCharsets.ISO_8859_1));
                while (!done) {
                    int before = in.readableBytes();
                    int emitted = out.size();
                    done = r.read(in, out);
                    if (in.readableBytes() == before && out.size() == emitted) {
                        break;
                    }
                }
            }
            return describe(out, in);
        } catch (BodyReader.BadBody e) {
            out.forEach(ReferenceCountUtil::release);
            return e.problem + " " + e.getMessage();
        } finally {
            in.release();
        }
    }

    private static String describe(List<Object> out, ByteBuf rest) {
        StringBuilder body = new StringBuilder();
        String trailers = "incomplete";
        for (Object o : out) {
            HttpContent c = (HttpContent) o;
            body.append(c.content().toString(StandardCharsets.ISO_8859_1));
            if (c instanceof LastHttpContent last) {
                StringBuilder t = new StringBuilder();
                last.trailingHeaders().forEach(e -> t.append(t.length() == 0 ? "" : " ")
                                                      .append(e.getKey()).append('=').append(e.getValue()));
                trailers = t.length() == 0 ? "-" : t.toString();
            }
            c.release();
        }
        return body + " | " + trailers + " | " + rest.toString(StandardCharsets.ISO_8859_1);
    }

    /** Every way of cutting s in two, and in three around each second cut. */
    private static List<String[]> splits(String s) {
        List<String[]> all = new ArrayList<>();
        all.add(new String[] {s});
        for (int i = 1; i < s.length(); i++) {
            all.add(new String[] {s.substring(0, i), s.substring(i)});
            int j = Math.min(s.length() - 1, i + 3);
            if (j > i) {
                all.add(new String[] {s.substring(0, i), s.substring(i, j), s.substring(j)});
            }
        }
        return all;
    }

    /** "name: value" trailer lines, as simply as a test needs. */
    private static final class Fields implements BodyReader.Trailers {
        private HttpHeaders headers;

        @Override
        public void trailerLine(ByteBuf in, int start, int end) {
            String line = in.toString(start, end - start, StandardCharsets.ISO_8859_1);
            int colon = line.indexOf(':');
            if (headers == null) {
                headers = DefaultHttpHeadersFactory.trailersFactory().withValidation(false).newHeaders();
            }
            headers.add(line.substring(0, colon), line.substring(colon + 1).strip());
        }

        @Override
        public HttpHeaders trailersEnd() {
            HttpHeaders t = headers;
            headers = null;
            return t;
        }
    }
}
