package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseDecoderTest {
    /** One response as it came out of the decoder. */
    private record Decoded(HttpResponse head, String body, boolean complete, boolean failed, LastHttpContent last) {
        BackendResponse backend() {
            return assertInstanceOf(BackendResponse.class, head);
        }

        /** The status line and the fields kept as bytes, as the frontend's encoder writes them. */
        String rawHead() {
            ByteBuf buf = Unpooled.buffer();
            try {
                backend().writeHead(buf);
                return buf.toString(StandardCharsets.ISO_8859_1);
            } finally {
                buf.release();
            }
        }
    }

    private static EmbeddedChannel channel() {
        return new EmbeddedChannel(new ResponseDecoder(1024));
    }

    private static ResponseDecoder decoder(EmbeddedChannel ch) {
        return ch.pipeline().get(ResponseDecoder.class);
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    /** Reads what the decoder emitted, grouped into responses; releases every message. */
    private static List<Decoded> drain(EmbeddedChannel ch) {
        List<Decoded> out = new ArrayList<>();
        HttpResponse head = null;
        StringBuilder body = new StringBuilder();
        Object msg;
        while ((msg = ch.readInbound()) != null) {
            try {
                if (msg instanceof HttpResponse r) {
                    if (r.decoderResult().isFailure()) {
                        out.add(new Decoded(r, "", false, true, null));
                        continue;
                    }
                    head = r;
                    body.setLength(0);
                }
                if (msg instanceof HttpContent c) {
                    if (c.decoderResult().isFailure()) {
                        out.add(new Decoded(head, body.toString(), false, true, null));
                        head = null;
                        continue;
                    }
                    body.append(c.content().toString(StandardCharsets.ISO_8859_1));
                    if (c instanceof LastHttpContent l) {
                        out.add(new Decoded(head, body.toString(), true, false, l));
                        head = null;
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
        if (head != null) {
            out.add(new Decoded(head, body.toString(), false, false, null));
        }
        return out;
    }

    private static List<Decoded> decode(String wire) {
        EmbeddedChannel ch = channel();
        ch.writeInbound(bytes(wire));
        List<Decoded> d = drain(ch);
        assertFalse(ch.finishAndReleaseAll());
        return d;
    }

    /** The same bytes one at a time: every state must resume where a read left it. */
    private static List<Decoded> decodeBytewise(String wire) {
        EmbeddedChannel ch = channel();
        List<Decoded> d = new ArrayList<>();
        for (int i = 0; i < wire.length(); i++) {
            ch.writeInbound(bytes(wire.substring(i, i + 1)));
        }
        d.addAll(drain(ch));
        assertFalse(ch.finishAndReleaseAll());
        return d;
    }

    private static Decoded one(String wire) {
        List<Decoded> d = decode(wire);
        assertEquals(1, d.size(), d.toString());
        List<Decoded> slow = decodeBytewise(wire);
        assertEquals(1, slow.size(), slow.toString());
        assertEquals(d.get(0).body(), slow.get(0).body());
        assertEquals(d.get(0).failed(), slow.get(0).failed());
        return d.get(0);
    }

    @Test
    void fieldsTheProxyDoesNotTouchStayTheBackendsBytes() {
        Decoded d = one("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: today\r\nContent-Length: 5\r\n"
                        + "Connection: keep-alive\r\nContent-Type: text/plain\r\n\r\nhello");
        assertTrue(d.complete());
        assertEquals("hello", d.body());
        assertEquals(200, d.head().status().code());
        assertEquals("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: today\r\nContent-Type: text/plain\r\n", d.rawHead());
        assertEquals("5", d.head().headers().get(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals("keep-alive", d.head().headers().get(HttpHeaderNames.CONNECTION));
        assertEquals(2, d.head().headers().size(), "only framing and hop-by-hop fields are parsed");
        assertTrue(d.last().trailingHeaders().isEmpty());
    }

    /** HTTP/2's view of the kept fields: names in lower case, common ones shared, values as sent. */
    @Test
    void keptFieldsInLowerCaseForHttp2() {
        String wire = "HTTP/1.1 200 OK\r\nServer: nginx\r\nCONTENT-type: Text/Plain\r\nX-Custom-Thing: Value\r\n"
                      + "set-cookie: a=1\r\nContent-Length: 0\r\n\r\n";
        List<AsciiString> names = new ArrayList<>();
        List<String> values = new ArrayList<>();
        ((BackendResponse) one(wire).head()).forEachKeptField(true, (n, v) -> {
            names.add(n);
            values.add(v.toString());
        });
        assertEquals(List.of("server", "content-type", "x-custom-thing", "set-cookie"),
                     names.stream().map(AsciiString::toString).toList());
        assertEquals(List.of("nginx", "Text/Plain", "Value", "a=1"), values);
        List<AsciiString> again = new ArrayList<>();
        ((BackendResponse) one(wire).head()).forEachKeptField(true, (n, v) -> again.add(n));
        assertSame(names.get(1), again.get(1), "a common name is one shared constant");
        assertNotSame(names.get(2), again.get(2), "another is its own copy");
        List<String> asSent = new ArrayList<>();
        ((BackendResponse) one(wire).head()).forEachKeptField((n, v) -> asSent.add(n.toString()));
        assertEquals(List.of("Server", "CONTENT-type", "X-Custom-Thing", "set-cookie"), asSent);
    }

    @Test
    void aHeadsBytesHoldTheNextResponseOnlyOnceItsOwnWereWritten() {
        EmbeddedChannel a = channel();
        EmbeddedChannel b = channel();
        a.writeInbound(bytes("HTTP/1.1 200 OK\r\nServer: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
        Decoded first = drain(a).get(0);
        // Not written yet (a client still to take it): the next head, on any connection, reads elsewhere.
        b.writeInbound(bytes("HTTP/1.1 404 Not Found\r\nServer: bbbbbbbbbbbbbbbbbbbbbbbb\r\n"
                             + "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n"));
        Decoded second = drain(b).get(0);
        assertEquals("HTTP/1.1 200 OK\r\nServer: a\r\n", first.rawHead());
        assertEquals("HTTP/1.1 404 Not Found\r\nServer: bbbbbbbbbbbbbbbbbbbbbbbb\r\n", second.rawHead());
        // Written: the next head may read into their bytes; the fields parsed from them stay their own.
        a.writeInbound(bytes("HTTP/1.1 503 Service Unavailable\r\nServer: cccccccccccccccccccccccccccccc\r\n"
                             + "Keep-Alive: timeout=5\r\nContent-Length: 17\r\n\r\n01234567890123456"));
        Decoded third = drain(a).get(0);
        b.writeInbound(bytes("HTTP/1.1 200 OK\r\nServer: dddddddddddddddddddddddddddddddddddddddddddd\r\n"
                             + "Connection: upgrade, x-y\r\nX-Y: 1\r\nContent-Length: 1\r\n\r\nz"));
        Decoded fourth = drain(b).get(0);
        assertEquals("HTTP/1.1 503 Service Unavailable\r\nServer: cccccccccccccccccccccccccccccc\r\n",
                     third.rawHead());
        assertEquals("close", first.head().headers().get(HttpHeaderNames.CONNECTION));
        assertEquals("keep-alive", second.head().headers().get(HttpHeaderNames.CONNECTION));
        assertEquals("0", second.head().headers().get(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals("timeout=5", third.head().headers().get(HttpHeaderNames.KEEP_ALIVE));
        assertEquals("17", third.head().headers().get(HttpHeaderNames.CONTENT_LENGTH));
        assertEquals("HTTP/1.1 200 OK\r\nServer: dddddddddddddddddddddddddddddddddddddddddddd\r\n",
                     fourth.rawHead());
        a.writeInbound(bytes("HTTP/1.1 204 No Content\r\nServer: " + "e".repeat(200) + "\r\n\r\n"));
        assertEquals(204, drain(a).get(0).head().status().code());
        assertEquals("1", fourth.head().headers().get("x-y"));
        assertTrue(fourth.head().headers().names().contains("X-Y"), fourth.head().headers().names().toString());
        ByteBuf buf = Unpooled.buffer();
        try {
            assertThrows(IllegalStateException.class, () -> first.backend().writeHead(buf),
                         "a head is written once: its bytes may be another response's since");
        } finally {
            buf.release();
        }
        assertFalse(a.finishAndReleaseAll());
        assertFalse(b.finishAndReleaseAll());
    }

    @Test
    void aFieldNamedByConnectionIsParsedSoItCanBeRemoved() {
        Decoded d = one("HTTP/1.1 200 OK\r\nX-Secret: 1\r\nConnection: close, x-secret\r\nX-Kept: 2\r\n"
                        + "Content-Length: 0\r\n\r\n");
        assertEquals("1", d.head().headers().get("x-secret"));
        assertEquals("HTTP/1.1 200 OK\r\nX-Kept: 2\r\n", d.rawHead());
    }

    @Test
    void customReasonPhraseAndHttp10AreKept() {
        Decoded d = one("HTTP/1.0 299 Quite Alright\r\nContent-Length: 2\r\n\r\nok");
        assertEquals(HttpVersion.HTTP_1_0, d.head().protocolVersion());
        assertEquals(299, d.head().status().code());
        assertEquals("HTTP/1.0 299 Quite Alright\r\n", d.rawHead());
        assertEquals("HTTP/1.1 204\r\n", one("HTTP/1.1 204\r\n\r\n").rawHead());
    }

    @Test
    void controlBytesBareLineFeedsAndFoldingAreMendedBeforeTheClientSeesThem() {
        Decoded d = one("HTTP/1.1 200 O\0K\r\nX-Nul: a\0b\rc\r\nX-Fold: one\r\n  two\nX-Bare: lf\n"
                        + "Content-Length: 2\r\n\r\nok");
        assertTrue(d.complete());
        assertEquals("HTTP/1.1 200 O K\r\nX-Nul: a b c\r\nX-Fold: one    two\r\nX-Bare: lf\r\n", d.rawHead());
    }

    @Test
    void chunkedBodyWithExtensionsAndTrailers() {
        Decoded d = one("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 9\r\n\r\n");
        assertTrue(d.complete());
        assertEquals("abcde", d.body());
        assertEquals("9", d.last().trailingHeaders().get("x-checksum"));
    }

    @Test
    void transferEncodingOverridesContentLength() {
        Decoded d = one("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "2\r\nok\r\n0\r\n\r\n");
        assertEquals("ok", d.body());
        assertNull(d.head().headers().get(HttpHeaderNames.CONTENT_LENGTH));
    }

    @Test
    void withoutLengthTheBodyEndsWhenTheConnectionCloses() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(bytes("HTTP/1.1 200 OK\r\n\r\nsome"));
        ch.writeInbound(bytes(" more"));
        List<Decoded> before = drain(ch);
        assertFalse(before.get(0).complete());
        assertEquals("some more", before.get(0).body());
        ch.close();
        Object last = ch.readInbound();
        assertInstanceOf(LastHttpContent.class, last);
        ReferenceCountUtil.release(last);
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void noBodyAfterHead204304OrInformational() {
        EmbeddedChannel ch = channel();
        decoder(ch).expectHead(true);
        ch.writeInbound(bytes("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                              + "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"
                              + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                              + "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n"
                              + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        List<Decoded> d = drain(ch);
        assertEquals(List.of(200, 204, 100, 103, 304, 200), d.stream().map(x -> x.head().status().code()).toList());
        assertTrue(d.stream().allMatch(Decoded::complete));
        assertEquals("ok", d.get(5).body());
        assertFalse(decoder(ch).holdsBytes());
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void after101TheBytesAreLeftForTheTunnel() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              + "Connection: Upgrade\r\n\r\n\u0081\u0002hi"));
        List<Decoded> d = drain(ch);
        assertEquals(101, d.get(0).head().status().code());
        assertTrue(d.get(0).complete());
        ch.pipeline().remove(ResponseDecoder.class);
        ByteBuf rest = ch.readInbound();
        assertEquals(4, rest.readableBytes(), "the frame after the 101 is handed on when the decoder goes");
        rest.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void strayLineEndsBetweenResponsesAreSkipped() {
        List<Decoded> d = decode("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na\r\n"
                                 + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
        assertEquals(2, d.size());
        assertEquals("b", d.get(1).body());
    }

    @Test
    void partOfAnUnaskedResponseIsHeld() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 2"));
        assertEquals("ok", drain(ch).get(0).body());
        assertTrue(decoder(ch).holdsBytes(), "such a connection must not be reused");
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void headsThatCannotBeReadSafelyFail() {
        for (String bad : List.of(
                "THIS IS NOT HTTP\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 600 Odd\r\n\r\n",
                "HTTP/2.0 200 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
                "HTTP/1.1 200 OK\r\nSpace before : colon\r\n\r\n",
                "HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-Big: " + "x".repeat(2000) + "\r\n\r\n")) {
            Decoded d = one(bad);
            assertTrue(d.failed(), bad);
        }
    }

    @Test
    void badChunkFramingFailsTheBody() {
        for (String bad : List.of("zz\r\n", "2\r\nabc\r\n", "1\r\na\r\n0\r\nbad trailer\r\n\r\n")) {
            List<Decoded> d = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + bad);
            assertTrue(d.get(d.size() - 1).failed(), bad);
        }
    }

    @Test
    void chunkedFramingToleratesBareLineFeedsAndPaddedSizes() {
        Decoded d = one("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "3  \nabc\n2;x\r\nde\r\n0\nX-Checksum: 9\n\n");
        assertTrue(d.complete());
        assertEquals("abcde", d.body());
        assertEquals("9", d.last().trailingHeaders().get("x-checksum"));
    }

    @Test
    void aBareCrInChunkedFramingFailsTheBodyAsOnTheRequestSide() {
        for (String bad : List.of("3;x\ry\r\nabc\r\n0\r\n\r\n", "0\r\nX-Checksum: 9\r1\r\n\r\n",
                                  "1\r\na\r\n0\r\n\r\r\n")) {
            List<Decoded> d = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + bad);
            assertTrue(d.get(d.size() - 1).failed(), bad);
        }
    }

    @Test
    void duplicateIdenticalContentLengthsStandAsOne() {
        Decoded d = one("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok");
        assertEquals("ok", d.body());
        assertEquals(List.of("2"), d.head().headers().getAll(HttpHeaderNames.CONTENT_LENGTH));
    }
}
