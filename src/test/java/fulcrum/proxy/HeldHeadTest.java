package fulcrum.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import fulcrum.http.BackendResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Both HTTP/1.1 encoders write a message framed by its length as one buffer when its body came
 * with its head, and byte for byte what Netty's encoder writes otherwise.
 */
class HeldHeadTest {
    /** A target's response as the backend side decodes it, ready for the client's encoder. */
    private static List<HttpObject> decoded(String wire) {
        EmbeddedChannel backend = new EmbeddedChannel(new BackendCodec(8192));
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        backend.writeOutbound(get, LastHttpContent.EMPTY_LAST_CONTENT);
        releaseAll(outbound(backend));
        backend.writeInbound(Unpooled.copiedBuffer(wire, StandardCharsets.ISO_8859_1));
        List<HttpObject> out = new ArrayList<>();
        HttpObject o;
        while ((o = backend.readInbound()) != null) {
            out.add(o);
        }
        assertFalse(backend.finishAndReleaseAll());
        return out;
    }

    /** What reached the socket, one string per buffer written. */
    private static List<String> outbound(EmbeddedChannel ch) {
        List<String> out = new ArrayList<>();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.add(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return out;
    }

    private static void releaseAll(List<?> objects) {
        objects.forEach(ReferenceCountUtil::release);
    }

    private static EmbeddedChannel client() {
        return new EmbeddedChannel(new ResponseEncoder());
    }

    @Test
    void aResponseThatCameWholeIsOneBuffer() {
        String wire = "HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\n\r\nhello";
        List<HttpObject> msgs = decoded(wire);
        EmbeddedChannel ch = client();
        for (HttpObject m : msgs) {
            ch.write(m, ch.voidPromise());
        }
        ch.flush();
        assertEquals(List.of("HTTP/1.1 200 OK\r\nServer: t\r\ncontent-length: 5\r\n\r\nhello"), outbound(ch));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aFlushBetweenHeadAndBodySendsTheHeadFirst() {
        List<HttpObject> msgs = decoded("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        EmbeddedChannel ch = client();
        ch.write(msgs.get(0), ch.voidPromise());
        ch.flush();
        assertEquals(List.of("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"), outbound(ch));
        ch.write(new DefaultHttpContent(Unpooled.copiedBuffer("hel", StandardCharsets.ISO_8859_1)), ch.voidPromise());
        ch.write(new DefaultLastHttpContent(Unpooled.copiedBuffer("lo", StandardCharsets.ISO_8859_1)),
                 ch.voidPromise());
        ch.flush();
        assertEquals(List.of("hel", "lo"), outbound(ch));
        releaseAll(msgs.subList(1, msgs.size()));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aBodyLargerThanTheHeadsRoomFollowsAsItsOwnBuffer() {
        String body = "x".repeat(HeldHead.MERGED_BODY * 4);
        List<HttpObject> msgs = decoded("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
        EmbeddedChannel ch = client();
        for (HttpObject m : msgs) {
            ch.write(m, ch.voidPromise());
        }
        ch.flush();
        List<String> out = outbound(ch);
        assertEquals("HTTP/1.1 200 OK\r\ncontent-length: " + body.length() + "\r\n\r\n" + body, String.join("", out));
        assertEquals(2, out.size(), "the head, then the body");
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void chunkedBodilessAndHeadResponsesAreNettysToEncode() {
        EmbeddedChannel ch = client();
        for (HttpObject m : decoded("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")) {
            ch.write(m, ch.voidPromise());
        }
        for (HttpObject m : decoded("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n")) {
            ch.write(m, ch.voidPromise());
        }
        ch.flush();
        assertEquals("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                     + "HTTP/1.1 204 No Content\r\n\r\n", String.join("", outbound(ch)));
        ((ResponseEncoder) ch.pipeline().first()).headRequest(true);
        for (HttpObject m : decoded("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")) {
            ch.write(m, ch.voidPromise());
        }
        ch.flush();
        assertEquals("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n", String.join("", outbound(ch)));
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aBodilessRequestIsOneBufferAndAPostCarriesItsBody() {
        EmbeddedChannel backend = new EmbeddedChannel(new BackendCodec(8192));
        HttpRequest get = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a");
        get.headers().set("Host", "t");
        backend.write(get, backend.voidPromise());
        backend.write(LastHttpContent.EMPTY_LAST_CONTENT, backend.voidPromise());
        HttpRequest post = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/b");
        post.headers().set("Content-Length", "3");
        backend.write(post, backend.voidPromise());
        backend.write(new DefaultLastHttpContent(Unpooled.copiedBuffer("abc", StandardCharsets.ISO_8859_1)),
                      backend.voidPromise());
        HttpRequest chunked = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/c");
        chunked.headers().set("Transfer-Encoding", "chunked");
        backend.write(chunked, backend.voidPromise());
        backend.write(new DefaultLastHttpContent(Unpooled.copiedBuffer("de", StandardCharsets.ISO_8859_1)),
                      backend.voidPromise());
        backend.flush();
        List<String> out = outbound(backend);
        assertEquals("GET /a HTTP/1.1\r\nHost: t\r\n\r\n", out.get(0));
        assertEquals("POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", out.get(1));
        assertEquals("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n",
                     String.join("", out.subList(2, out.size())));
        assertNull(backend.readOutbound());
        assertFalse(backend.finishAndReleaseAll());
    }
}
