package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** FlatHeaders against Netty's DefaultHttpHeaders: the same operations must read back the same. */
class FlatHeadersTest {
    private static final String[] NAMES = {"Host", "Content-Length", "Connection", "X-Forwarded-For", "Cookie", "te"};
    private static final String[] VALUES = {"a", "close", "keep-alive, close", "12", "x=1; y=2", "99999999999", "", " 7"};

    @Test
    void randomOperationsReadBackAsDefaultHttpHeaders() {
        Random random = new Random(20261207);
        for (int run = 0; run < 300; run++) {
            HttpHeaders expected = DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
            HttpHeaders flat = new FlatHeaders(1 + random.nextInt(4));
            List<String> ops = new ArrayList<>();
            for (int step = 0; step < 25; step++) {
                String name = spelling(NAMES[random.nextInt(NAMES.length)], random);
                CharSequence value = random.nextBoolean() ? VALUES[random.nextInt(VALUES.length)]
                                                          : AsciiString.of(VALUES[random.nextInt(VALUES.length)]);
                CharSequence key = random.nextBoolean() ? name : AsciiString.of(name);
                switch (random.nextInt(7)) {
                    case 0, 1, 2 -> { expected.add(key, value); flat.add(key, value); ops.add("add " + name + "=" + value); }
                    case 3 -> { expected.set(key, value); flat.set(key, value); ops.add("set " + name + "=" + value); }
                    case 4 -> { expected.remove(key); flat.remove(key); ops.add("remove " + name); }
                    case 5 -> { expected.setInt(key, step); flat.setInt(key, step); ops.add("setInt " + name + "=" + step); }
                    default -> { expected.set(key, List.of(value, "v" + step)); flat.set(key, List.of(value, "v" + step));
                                 ops.add("set " + name + "=[" + value + ", v" + step + "]"); }
                }
                assertSame(expected, flat, String.join("; ", ops));
            }
            assertSame(expected.copy(), flat.copy(), "copy after " + String.join("; ", ops));
            assertSame(expected, new FlatHeaders().add(flat), "add(headers) after " + String.join("; ", ops));
            assertEquals(encoded(expected), encoded(flat), "encoded after " + String.join("; ", ops));
        }
    }

    @Test
    void keepAliveAndFramingHelpersSeeTheFields() {
        DefaultHttpRequest req = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/", new FlatHeaders());
        req.headers().add("connection", AsciiString.of("Upgrade, Close"));
        req.headers().add(HttpHeaderNames.TRANSFER_ENCODING, "gzip");
        req.headers().add(HttpHeaderNames.TRANSFER_ENCODING, AsciiString.of("chunked"));
        assertTrue(!HttpUtil.isKeepAlive(req), "Connection: close among other tokens");
        assertTrue(HttpUtil.isTransferEncodingChunked(req), "chunked in the second field");
        assertEquals(-1, HttpUtil.getContentLength(req, -1L));
        req.headers().set("Content-LENGTH", 42);
        assertEquals(42, HttpUtil.getContentLength(req));
        assertNull(req.headers().getInt("connection"));
    }

    private static String spelling(String name, Random random) {
        return switch (random.nextInt(3)) {
            case 0 -> name;
            case 1 -> name.toLowerCase(Locale.ROOT);
            default -> name.toUpperCase(Locale.ROOT);
        };
    }

    private static void assertSame(HttpHeaders expected, HttpHeaders flat, String ops) {
        assertEquals(expected.size(), flat.size(), ops);
        assertEquals(expected.isEmpty(), flat.isEmpty(), ops);
        assertEquals(fields(expected), fields(flat), ops);
        assertEquals(lower(expected.names()), lower(flat.names()), ops);
        for (String n : NAMES) {
            for (String name : List.of(n, n.toUpperCase(Locale.ROOT))) {
                assertEquals(expected.get(name), flat.get(name), ops + " get " + name);
                assertEquals(expected.get(AsciiString.of(name)), flat.get(AsciiString.of(name)), ops);
                assertEquals(expected.getAll(name), flat.getAll(name), ops + " getAll " + name);
                assertEquals(expected.contains(name), flat.contains(name), ops);
                assertEquals(expected.getInt(name), flat.getInt(name), ops + " getInt " + name);
                assertEquals(expected.getShort(name), flat.getShort(name), ops + " getShort " + name);
                for (String v : VALUES) {
                    assertEquals(expected.contains(name, v, true), flat.contains(name, v, true), ops + " contains " + v);
                    assertEquals(expected.contains(name, v.toUpperCase(Locale.ROOT), false),
                                 flat.contains(name, v.toUpperCase(Locale.ROOT), false), ops);
                    assertEquals(expected.containsValue(name, v, true), flat.containsValue(name, v, true),
                                 ops + " containsValue " + v);
                }
                List<String> values = new ArrayList<>();
                for (Iterator<? extends CharSequence> it = flat.valueCharSequenceIterator(name); it.hasNext(); ) {
                    values.add(it.next().toString());
                }
                assertEquals(expected.getAll(name), values, ops);
            }
        }
    }

    private static List<String> fields(HttpHeaders h) {
        List<String> out = new ArrayList<>();
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            out.add(e.getKey() + ": " + e.getValue());
        }
        List<String> strings = new ArrayList<>();
        for (Map.Entry<String, String> e : h) {
            strings.add(e.getKey() + ": " + e.getValue());
        }
        assertEquals(out, strings, "String and CharSequence iteration");
        return out;
    }

    private static Set<String> lower(Set<String> names) {
        Set<String> out = new TreeSet<>();
        names.forEach(n -> out.add(n.toLowerCase(Locale.ROOT)));
        return out;
    }

    /** A request head as Netty's encoder writes it, or as FlatHeaders.encode does for its fields. */
    private static String encoded(HttpHeaders headers) {
        if (headers instanceof FlatHeaders f) {
            ByteBuf buf = Unpooled.buffer();
            try {
                buf.writeCharSequence("GET / HTTP/1.1\r\n", StandardCharsets.US_ASCII);
                f.encode(buf);
                buf.writeShort(('\r' << 8) | '\n');
                return buf.toString(StandardCharsets.ISO_8859_1);
            } finally {
                buf.release();
            }
        }
        EmbeddedChannel ch = new EmbeddedChannel(new HttpRequestEncoder());
        ch.writeOutbound(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/", headers));
        StringBuilder out = new StringBuilder();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            out.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        ch.finishAndReleaseAll();
        return out.toString();
    }
}
