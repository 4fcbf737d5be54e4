package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Feeds raw bytes to a {@link RequestDecoder} and collects what it emits, releasing as it goes. */
public final class Wire {
    static final String FOLLOW_UP = "GET /follow-up HTTP/1.1\r\nHost: f.example\r\n\r\n";

    private Wire() {
    }

    static RequestLimits limits(DesyncMode mode) {
        return new RequestLimits(16 * 1024, 64 * 1024, 100, 0, 4096, mode);
    }

    static EmbeddedChannel channel(DesyncMode mode) {
        return new EmbeddedChannel(new RequestDecoder(limits(mode)));
    }

    static EmbeddedChannel channel(RequestLimits limits) {
        return new EmbeddedChannel(new RequestDecoder(limits));
    }

    /** One emitted request (head, body, last) or one rejection. */
    static final class Decoded {
        DecodedRequest head;
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        int pieces;
        HttpHeaders trailers;
        boolean complete;
        RejectedRequest rejected;

        String bodyText() {
            return body.toString(StandardCharsets.ISO_8859_1);
        }

        /** Everything observable, to compare feeds that split the same bytes differently. */
        String signature() {
            if (rejected != null) {
                return "REJECT " + rejected;
            }
            StringBuilder s = new StringBuilder();
            s.append(head.method()).append(' ').append(head.uri()).append(' ').append(head.protocolVersion())
                    .append(' ').append(head.desyncClass()).append(' ').append(head.desyncReason())
                    .append(" close=").append(head.closeAfter());
            for (Map.Entry<String, String> e : head.headers()) {
                s.append('|').append(e.getKey()).append('=').append(e.getValue());
            }
            s.append(" body=").append(bodyText()).append(" complete=").append(complete);
            if (trailers != null) {
                for (Map.Entry<String, String> e : trailers) {
                    s.append("|T:").append(e.getKey()).append('=').append(e.getValue());
                }
            }
            return s.toString();
        }
    }

    /**
     * Reads everything inbound, checking the message sequence is well formed: head, contents,
     * last; a rejection is final.
     */
    static List<Decoded> drain(EmbeddedChannel ch, List<Decoded> into) {
        Decoded current = into.isEmpty() ? null : into.get(into.size() - 1);
        Object m;
        while ((m = ch.readInbound()) != null) {
            try {
                if (current != null && current.rejected != null) {
                    fail("message after a rejection: " + m);
                }
                if (m instanceof RejectedRequest r) {
                    current = new Decoded();
                    current.rejected = r;
                    into.add(current);
                } else if (m instanceof DecodedRequest r) {
                    if (current != null && !current.complete) {
                        fail("request head before the previous request ended");
                    }
                    current = new Decoded();
                    current.head = r;
                    into.add(current);
                } else if (m instanceof HttpContent c) {
                    if (current == null || current.head == null || current.complete) {
                        fail("content outside a request");
                    }
                    ByteBuf content = c.content();
                    content.getBytes(content.readerIndex(), current.body, content.readableBytes());
                    current.pieces++;
                    if (c instanceof LastHttpContent last) {
                        current.complete = true;
                        if (!last.trailingHeaders().isEmpty()) {
                            current.trailers = last.trailingHeaders();
                        }
                    }
                } else {
                    fail("unexpected message " + m);
                }
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            } finally {
                io.netty.util.ReferenceCountUtil.release(m);
            }
        }
        return into;
    }

    /** Writes {@code bytes} in pieces of the given sizes (cycled), draining after each write. */
    static List<Decoded> feed(EmbeddedChannel ch, byte[] bytes, int pieceSize) {
        List<Decoded> out = new ArrayList<>();
        for (int i = 0; i < bytes.length; i += pieceSize) {
            int n = Math.min(pieceSize, bytes.length - i);
            ch.writeInbound(Unpooled.copiedBuffer(bytes, i, n));
            drain(ch, out);
        }
        return out;
    }

    static List<Decoded> feedRandomly(EmbeddedChannel ch, byte[] bytes, Random random) {
        List<Decoded> out = new ArrayList<>();
        int i = 0;
        while (i < bytes.length) {
            int n = Math.min(1 + random.nextInt(Math.max(1, bytes.length / 3)), bytes.length - i);
            ch.writeInbound(Unpooled.copiedBuffer(bytes, i, n));
            drain(ch, out);
            i += n;
        }
        return out;
    }

    /**
     * Writes all bytes in one buffer, drains, finishes the channel and checks the decoder let go
     * of the buffer: a deterministic leak check on top of paranoid leak detection.
     */
    static List<Decoded> feedWholeAndFinish(EmbeddedChannel ch, byte[] bytes) {
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        List<Decoded> out = new ArrayList<>();
        ch.writeInbound(in);
        drain(ch, out);
        finish(ch);
        assertEquals(0, in.refCnt(), "input buffer still referenced after the channel closed");
        return out;
    }

    static void finish(EmbeddedChannel ch) {
        List<Decoded> late = drain(ch, new ArrayList<>());
        assertTrue(late.isEmpty(), "nothing left unread");
        boolean left = ch.finishAndReleaseAll();
        assertEquals(false, left, "messages left in the channel");
    }

    static Decoded single(List<Decoded> decoded) {
        assertEquals(1, decoded.size(), () -> "decoded " + signatures(decoded));
        return decoded.get(0);
    }

    static DecodedRequest request(Decoded d) {
        assertNull(d.rejected, () -> "rejected: " + d.rejected);
        assertNotNull(d.head);
        return d.head;
    }

    static List<String> signatures(List<Decoded> decoded) {
        List<String> s = new ArrayList<>();
        for (Decoded d : decoded) {
            s.add(d.signature());
        }
        return s;
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /**
     * The corpus escape convention: \r \n \t \v \0 \\ and \xHH; literal line breaks in the file
     * only make it readable and are dropped.
     */
    public static byte[] unescape(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n' || c == '\r') {
                continue;
            }
            if (c != '\\') {
                out.write(c);
                continue;
            }
            char e = text.charAt(++i);
            switch (e) {
                case 'r' -> out.write('\r');
                case 'n' -> out.write('\n');
                case 't' -> out.write('\t');
                case 'v' -> out.write(0x0b);
                case '0' -> out.write(0);
                case '\\' -> out.write('\\');
                case 'x' -> {
                    out.write(Integer.parseInt(text.substring(i + 1, i + 3), 16));
                    i += 2;
                }
                default -> throw new IllegalArgumentException("unknown escape \\" + e);
            }
        }
        return out.toByteArray();
    }

    static String hex(byte[] bytes) {
        return ByteBufUtil.hexDump(bytes);
    }
}
