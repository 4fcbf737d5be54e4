package fulcrum.http;

import static fulcrum.http.Wire.ascii;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import fulcrum.http.Wire.Decoded;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

class RequestDecoderTest {
    private static final long FIFTY_MB = 50L * 1024 * 1024;

    @Test
    void pipelinedRequestsInOneBufferComeOutOneAfterAnother() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        String three = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                + "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
                + "GET /4 HTTP/1.1\r\nHost: a\r\n\r\n";
        List<Decoded> decoded = Wire.feedWholeAndFinish(ch, ascii(three));
        assertEquals(4, decoded.size());
        for (int i = 0; i < 4; i++) {
            assertEquals("/" + (i + 1), Wire.request(decoded.get(i)).uri());
            assertTrue(decoded.get(i).complete);
        }
        assertEquals("abc", decoded.get(1).bodyText());
        assertEquals("xy", decoded.get(2).bodyText());
    }

    @Test
    void methodsAreReadCaseSensitivelyWhateverTheirSpelling() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        String[] methods = {"GET", "get", "POST", "PATCH", "PATCHX", "GE", "DELETE", "PURGE", "OPTIONS", "TRACE"};
        StringBuilder wire = new StringBuilder();
        for (String m : methods) {
            wire.append(m).append(" /").append(m).append(" HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        List<Decoded> decoded = Wire.feedWholeAndFinish(ch, ascii(wire.toString()));
        assertEquals(methods.length, decoded.size());
        for (int i = 0; i < methods.length; i++) {
            HttpRequest r = Wire.request(decoded.get(i));
            assertEquals(methods[i], r.method().name());
            assertEquals("/" + methods[i], r.uri());
        }
        assertTrue(Wire.request(decoded.get(0)).method() == io.netty.handler.codec.http.HttpMethod.GET,
                   "a standard method is Netty's constant");
    }

    @Test
    void largeContentLengthBodyStreamsThroughInPieces() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        ch.writeInbound(Unpooled.copiedBuffer(ascii(
                "PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: " + FIFTY_MB + "\r\n\r\n")));
        DecodedRequest head = ch.readInbound();
        assertEquals("/big", head.uri());
        Random random = new Random(7);
        CRC32 sent = new CRC32();
        CRC32 received = new CRC32();
        long total = 0;
        int largestPiece = 0;
        boolean last = false;
        byte[] block = new byte[256 * 1024];
        for (long left = FIFTY_MB; left > 0; ) {
            int n = (int) Math.min(left, 1 + random.nextInt(block.length));
            random.nextBytes(block);
            sent.update(block, 0, n);
            ch.writeInbound(Unpooled.wrappedBuffer(block, 0, n).copy());
            left -= n;
            largestPiece = Math.max(largestPiece, n);
            HttpContent c;
            while ((c = ch.readInbound()) != null) {
                assertFalse(last, "content after the last content");
                ByteBuf b = c.content();
                assertTrue(b.readableBytes() <= largestPiece, "a piece is never more than what arrived");
                received.update(b.nioBuffer());
                total += b.readableBytes();
                last = c instanceof LastHttpContent;
                c.release();
            }
        }
        assertTrue(last);
        assertEquals(FIFTY_MB, total);
        assertEquals(sent.getValue(), received.getValue());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void largeChunkedBodyStreamsThroughInPieces() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        ch.writeInbound(Unpooled.copiedBuffer(ascii(
                "POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")));
        DecodedRequest head = ch.readInbound();
        assertNotNull(head);
        Random random = new Random(11);
        CRC32 sent = new CRC32();
        CRC32 received = new CRC32();
        long total = 0;
        long expected = 0;
        boolean last = false;
        List<Object> read = new ArrayList<>();
        while (expected < FIFTY_MB) {
            int size = 1 + random.nextInt(300 * 1024);
            byte[] data = new byte[size];
            random.nextBytes(data);
            sent.update(data);
            expected += size;
            ByteBuf chunk = Unpooled.buffer(size + 16);
            chunk.writeBytes(ascii(Integer.toHexString(size) + "\r\n")).writeBytes(data).writeBytes(ascii("\r\n"));
            if (expected >= FIFTY_MB) {
                chunk.writeBytes(ascii("0\r\nX-Sum: 1\r\n\r\n"));
            }
            // Split the encoded chunk at random points, as TCP would.
            while (chunk.isReadable()) {
                int n = Math.min(chunk.readableBytes(), 1 + random.nextInt(64 * 1024));
                ch.writeInbound(chunk.readRetainedSlice(n));
                Object m;
                while ((m = ch.readInbound()) != null) {
                    HttpContent c = (HttpContent) m;
                    assertFalse(last);
                    received.update(c.content().nioBuffer());
                    total += c.content().readableBytes();
                    if (c instanceof LastHttpContent l) {
                        last = true;
                        assertEquals("1", l.trailingHeaders().get("X-Sum"));
                    }
                    c.release();
                }
            }
            chunk.release();
        }
        assertTrue(last);
        assertEquals(expected, total);
        assertEquals(sent.getValue(), received.getValue());
        assertTrue(read.isEmpty());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void requestLineOverTheLimitIs414() {
        RequestLimits limits = new RequestLimits(64, 1024, 10, 0, 4096, DesyncMode.DEFENSIVE);
        String longLine = "GET /" + "a".repeat(100) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        assertRejected(limits, longLine, 414);
        // Also when the line has not ended yet: the decoder must not buffer it without bound.
        EmbeddedChannel ch = Wire.channel(limits);
        List<Decoded> d = Wire.feedWholeAndFinish(ch, ascii("GET /" + "a".repeat(100)));
        assertEquals(414, Wire.single(d).rejected.status().code());
        // And exactly at the limit it is fine.
        String atLimit = "GET /" + "a".repeat(64 - 14) + " HTTP/1.1";
        assertEquals(64, atLimit.length());
        assertEquals(1, decodeOk(limits, atLimit + "\r\nHost: a\r\n\r\n").size());
    }

    @Test
    void headerSectionOverTheLimitIs431() {
        RequestLimits limits = new RequestLimits(1024, 100, 10, 0, 4096, DesyncMode.DEFENSIVE);
        assertRejected(limits, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "b".repeat(100) + "\r\n\r\n", 431);
        EmbeddedChannel ch = Wire.channel(limits);
        List<Decoded> d = Wire.feedWholeAndFinish(ch, ascii("GET / HTTP/1.1\r\nX-Big: " + "b".repeat(200)));
        assertEquals(431, Wire.single(d).rejected.status().code());
    }

    @Test
    void tooManyHeadersIs431() {
        RequestLimits limits = new RequestLimits(1024, 64 * 1024, 3, 0, 4096, DesyncMode.DEFENSIVE);
        assertEquals(1, decodeOk(limits, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n").size());
        assertRejected(limits, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431);
    }

    @Test
    void contentLengthOverTheBodyLimitIs413UpFront() {
        RequestLimits limits = new RequestLimits(1024, 1024, 10, 10, 4096, DesyncMode.DEFENSIVE);
        assertRejected(limits, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413);
        assertEquals(1, decodeOk(limits, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789").size());
    }

    @Test
    void chunkedBodyCrossingTheLimitIs413WhenItCrosses() {
        RequestLimits limits = new RequestLimits(1024, 1024, 10, 10, 4096, DesyncMode.DEFENSIVE);
        EmbeddedChannel ch = Wire.channel(limits);
        List<Decoded> d = Wire.feedWholeAndFinish(ch, ascii("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n" + Wire.FOLLOW_UP));
        assertEquals(2, d.size());
        assertEquals("abcdef", d.get(0).bodyText());
        assertFalse(d.get(0).complete);
        assertEquals(413, d.get(1).rejected.status().code());
    }

    @Test
    void chunkSizeLineOverTheLimitIs400() {
        RequestLimits limits = new RequestLimits(1024, 1024, 10, 0, 16, DesyncMode.DEFENSIVE);
        String head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assertEquals(1, decodeOk(limits, head + "5;a=bcdefgh\r\nhello\r\n0\r\n\r\n").size());
        assertRejected(limits, head + "5;a=bcdefghijklmnop\r\nhello\r\n0\r\n\r\n", 400);
        // Leading zeros cannot be used to send an endless size line either.
        EmbeddedChannel ch = Wire.channel(limits);
        List<Decoded> d = Wire.feedWholeAndFinish(ch, ascii(head + "0".repeat(100)));
        assertEquals(400, d.get(1).rejected.status().code());
    }

    /**
     * A CR that is not followed by LF ends no line: the decoder must say 400 as soon as the byte
     * after it arrives, not wait for an LF that a hanging client never sends.
     */
    @Test
    void bareCrIsRejectedAsSoonAsTheNextByteIsNotLf() {
        String chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        String[] prefixes = {
            "GET / HTTP/1.1\r",                              // request line
            "GET /a\r",                                      // request line, inside the target
            "GET / HTTP/1.1\r\nHost: a\r",                   // header line
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: b c\r",         // a later header line
            chunked + "5\r",                                 // chunk-size line
            chunked + "5;a=b\r",                             // chunk extension
            chunked + "5\r\nhello\r\n0\r\nX-T: 1\r",          // trailer line
        };
        for (String prefix : prefixes) {
            for (DesyncMode mode : DesyncMode.values()) {
                EmbeddedChannel ch = Wire.channel(mode);
                List<Decoded> d = Wire.feed(ch, ascii(prefix), 1);
                assertTrue(d.stream().allMatch(x -> x.rejected == null), () -> prefix + ": " + Wire.signatures(d));
                // The CR may still be the first half of a CRLF: nothing is decided yet.
                ch.writeInbound(Unpooled.copiedBuffer(ascii("X")));
                Wire.drain(ch, d);
                Decoded last = d.get(d.size() - 1);
                assertNotNull(last.rejected, () -> mode + " " + prefix.replace("\r", "\\r") + ": " + Wire.signatures(d));
                assertEquals(400, last.rejected.status().code());
                assertEquals(DesyncClass.SEVERE, last.rejected.desyncClass());
                // ALB's code for it: BadHeader in the head, BadTransferEncoding in chunked framing.
                String reason = last.rejected.reason();
                assertEquals(prefix.startsWith(chunked) ? "BadTransferEncoding" : "BadHeader",
                             RequestDecoder.classificationCode(reason), reason);
                assertTrue(reason.endsWith(": CR not followed by LF"), reason);
                Wire.finish(ch);
            }
            // In one buffer the same bytes get the same answer.
            assertRejected(Wire.limits(DesyncMode.MONITOR), prefix + "X\r\n\r\n", 400);
        }
    }

    @Test
    void crAsTheLastByteWaitsForTheNext() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        List<Decoded> d = Wire.feed(ch, ascii("GET / HTTP/1.1\r\nHost: a\r"), 1);
        assertTrue(d.isEmpty());
        Wire.feed(ch, ascii("\n\r\n"), 1).forEach(d::add);
        assertEquals(DesyncClass.COMPLIANT, Wire.request(Wire.single(d)).desyncClass());
        Wire.finish(ch);
    }

    @Test
    void rejectionDiscardsEverythingAfterIt() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        ch.writeInbound(Unpooled.copiedBuffer(ascii("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n")));
        RejectedRequest r = ch.readInbound();
        assertEquals(400, r.status().code());
        ch.writeInbound(Unpooled.copiedBuffer(ascii(Wire.FOLLOW_UP)));
        ch.writeInbound(Unpooled.copiedBuffer(ascii(Wire.FOLLOW_UP)));
        assertNull(ch.readInbound());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void absoluteFormBecomesOriginFormWithHost() {
        List<Decoded> d = decodeOk(Wire.limits(DesyncMode.DEFENSIVE),
                "GET http://example.com:8080/a?b HTTP/1.1\r\n\r\n");
        DecodedRequest r = Wire.request(d.get(0));
        assertEquals("/a?b", r.uri());
        assertEquals("example.com:8080", r.headers().get(HttpHeaderNames.HOST));
        // RFC 9112 3.2.2 form, and guardian's compliant: rewriting it is our business.
        assertEquals(DesyncClass.COMPLIANT, r.desyncClass());
        assertFalse(r.closeAfter());
    }

    @Test
    void duplicateContentLengthIsNormalisedToOneAndClosesAfter() {
        List<Decoded> d = decodeOk(Wire.limits(DesyncMode.DEFENSIVE),
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
        DecodedRequest r = Wire.request(d.get(0));
        assertEquals(List.of("3"), r.headers().getAll(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals(DesyncClass.AMBIGUOUS, r.desyncClass());
        assertTrue(r.closeAfter());
    }

    @Test
    void monitorForwardsContentLengthWithChunkedAsChunkedOnlyAndCloses() {
        List<Decoded> d = decodeOk(Wire.limits(DesyncMode.MONITOR),
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        DecodedRequest r = Wire.request(d.get(0));
        assertFalse(r.headers().contains(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals(DesyncClass.SEVERE, r.desyncClass());
        // RFC 9112 6.1 requires closing after it, whatever the mode.
        assertTrue(r.closeAfter());
        assertEquals("abc", d.get(0).bodyText());
    }

    @Test
    void monitorReplacesControlBytesInOrdinaryValuesWithSpace() {
        List<Decoded> d = decodeOk(Wire.limits(DesyncMode.MONITOR),
                "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\0b\r\n\r\n");
        DecodedRequest r = Wire.request(d.get(0));
        assertEquals("a b", r.headers().get("X-Note"));
        assertEquals(DesyncClass.SEVERE, r.desyncClass());
        assertFalse(r.closeAfter(), "MONITOR only records");
    }

    @Test
    void defensiveForwardsAmbiguousAndClosesStrictestRejects() {
        String lfOnly = "GET / HTTP/1.1\nHost: a\n\n";
        DecodedRequest r = Wire.request(decodeOk(Wire.limits(DesyncMode.DEFENSIVE), lfOnly).get(0));
        assertTrue(r.closeAfter());
        assertRejected(Wire.limits(DesyncMode.STRICTEST), lfOnly, 400);
        DecodedRequest compliant = Wire.request(decodeOk(Wire.limits(DesyncMode.STRICTEST),
                "GET http://a/ HTTP/1.1\r\n\r\n").get(0));
        assertEquals(DesyncClass.COMPLIANT, compliant.desyncClass());
        // STRICTEST forwards only compliant requests, as ALB's strictest mode.
        String acceptable = "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n";
        assertEquals(DesyncClass.ACCEPTABLE, Wire.request(decodeOk(Wire.limits(DesyncMode.DEFENSIVE), acceptable).get(0)).desyncClass());
        assertRejected(Wire.limits(DesyncMode.STRICTEST), acceptable, 400);
    }

    /**
     * What ALB forwards and RFC 9112 does not quite allow reaches the backend in a form every
     * parser reads one way: no parameters on chunked (or Netty's encoder would not chunk),
     * no field whose name is not a token, controls as SP, spaces in the target as %20.
     */
    @Test
    void acceptableRequestsAreForwardedNormalised() {
        List<Decoded> d = decodeOk(Wire.limits(DesyncMode.DEFENSIVE),
                "POST /a b HTTP/1.1 \r\nHost: a\r\nTransfer-Encoding: gzip;x=1, chunked;q=1\r\n"
                + "\u0001X-Odd: 1\r\nX-Ctl: a\u0001b\r\nX-Space : c\r\n\r\n5;ext=\"v w\"\r\nhello\r\n0\r\n\r\n");
        DecodedRequest r = Wire.request(d.get(0));
        assertEquals(DesyncClass.ACCEPTABLE, r.desyncClass());
        assertFalse(r.closeAfter());
        assertEquals("/a%20b", r.uri());
        assertEquals("gzip, chunked", r.headers().get(HttpHeaderNames.TRANSFER_ENCODING));
        assertTrue(io.netty.handler.codec.http.HttpUtil.isTransferEncodingChunked(r));
        assertEquals(List.of("host", "transfer-encoding", "x-ctl", "x-space"),
                r.headers().names().stream().map(n -> n.toLowerCase(java.util.Locale.ROOT)).sorted().toList());
        assertEquals("a b", r.headers().get("X-Ctl"));
        assertEquals("c", r.headers().get("X-Space"));
        assertEquals("hello", d.get(0).bodyText());
    }

    @Test
    void upgradeHoldsFollowingBytesUntilTheDecoderIsRemoved() {
        RequestDecoder decoder = new RequestDecoder(Wire.limits(DesyncMode.DEFENSIVE));
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(Unpooled.copiedBuffer(ascii("GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                + "Upgrade: websocket\r\n\r\n\u0081\u0085frame")));
        List<Decoded> d = Wire.drain(ch, new ArrayList<>());
        assertEquals(1, d.size());
        assertTrue(d.get(0).complete);
        ch.writeInbound(Unpooled.copiedBuffer(ascii("more")));
        assertNull(ch.readInbound());
        // The backend said 101: the proxy takes the decoder out and gets the bytes as they came.
        ch.pipeline().remove(decoder);
        ByteBuf leftover = ch.readInbound();
        assertEquals("\u0081\u0085framemore", leftover.toString(StandardCharsets.ISO_8859_1));
        leftover.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void declinedUpgradeResumesDecoding() {
        RequestDecoder decoder = new RequestDecoder(Wire.limits(DesyncMode.DEFENSIVE));
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(Unpooled.copiedBuffer(ascii("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n"
                + Wire.FOLLOW_UP)));
        assertEquals(1, Wire.drain(ch, new ArrayList<>()).size());
        decoder.upgradeDeclined();
        List<Decoded> d = Wire.drain(ch, new ArrayList<>());
        assertEquals("/follow-up", Wire.request(Wire.single(d)).uri());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void contentPiecesAreRetainedSlicesNotCopies() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        ByteBuf in = Unpooled.directBuffer();
        in.writeBytes(ascii("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
        ch.writeInbound(in);
        ReferenceCountUtil.release(ch.readInbound());
        HttpContent body = ch.readInbound();
        assertTrue(body.content().unwrap() != null, "a slice of the received buffer");
        assertEquals("hello", body.content().toString(StandardCharsets.US_ASCII));
        body.release();
        assertEquals(0, in.refCnt());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void fieldNamesReachTheTargetSpelledAsTheClientSentThem() {
        EmbeddedChannel ch = Wire.channel(DesyncMode.DEFENSIVE);
        String spelled = "GET /a%20b?q=1 HTTP/1.1\r\nHost: a\r\nuser-agent: x\r\nACCEPT: */*\r\nX-Custom-Thing: 1\r\n"
                + "Sec-WebSocket-Key: k\r\nCoOkIe: c=1\r\n\r\n"
                + "GET /b c HTTP/1.1\r\nHOST: a\r\ncookie: d=2\r\n\r\n";
        List<Decoded> decoded = Wire.feedWholeAndFinish(ch, ascii(spelled));
        assertEquals(2, decoded.size());
        List<String> names = new ArrayList<>();
        Wire.request(decoded.get(0)).headers().forEach(e -> names.add(e.getKey()));
        assertEquals(List.of("Host", "user-agent", "ACCEPT", "X-Custom-Thing", "Sec-WebSocket-Key", "CoOkIe"), names);
        assertEquals("/a%20b?q=1", Wire.request(decoded.get(0)).uri());
        HttpRequest second = Wire.request(decoded.get(1));
        assertEquals("/b%20c", second.uri());
        names.clear();
        second.headers().forEach(e -> names.add(e.getKey()));
        assertEquals(List.of("HOST", "cookie"), names);
        assertEquals("a", second.headers().get("host"));
        assertEquals("d=2", second.headers().get("Cookie"));
    }

    private static List<Decoded> decodeOk(RequestLimits limits, String request) {
        EmbeddedChannel ch = Wire.channel(limits);
        List<Decoded> d = Wire.feedWholeAndFinish(ch, ascii(request));
        for (Decoded x : d) {
            Wire.request(x);
            assertTrue(x.complete);
        }
        return d;
    }

    private static void assertRejected(RequestLimits limits, String request, int status) {
        for (int piece : new int[] {Integer.MAX_VALUE, 1, 7}) {
            EmbeddedChannel ch = Wire.channel(limits);
            byte[] bytes = Wire.concat(ascii(request), ascii(Wire.FOLLOW_UP));
            List<Decoded> d = piece == Integer.MAX_VALUE ? Wire.feedWholeAndFinish(ch, bytes) : Wire.feed(ch, bytes, piece);
            if (piece != Integer.MAX_VALUE) {
                Wire.finish(ch);
            }
            Decoded last = d.get(d.size() - 1);
            assertNotNull(last.rejected, () -> "piece " + piece + ": " + Wire.signatures(d));
            assertEquals(status, last.rejected.status().code(), last.rejected.reason());
        }
    }
}
