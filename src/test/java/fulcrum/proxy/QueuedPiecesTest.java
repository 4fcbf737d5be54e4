package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QueuedPiecesTest {
    /** A 16 KiB read buffer holding {@code text}, as a read from io_uring's ring would. */
    private static ByteBuf readBuffer(String text) {
        ByteBuf b = Unpooled.directBuffer(16 * 1024);
        b.writeCharSequence(text, StandardCharsets.US_ASCII);
        return b;
    }

    /** A channel whose write queue already holds bytes that were not sent. */
    private static EmbeddedChannel queued() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.write(Unpooled.copiedBuffer("earlier", StandardCharsets.US_ASCII));
        return ch;
    }

    @Test
    void aSmallPieceThatMustWaitIsCopiedAndItsReadBufferFreed() {
        EmbeddedChannel ch = queued();
        ByteBuf read = readBuffer("xab");
        ByteBuf piece = read.retainedSlice(1, 2);
        read.release();
        ByteBuf out = QueuedPieces.compact(ch, piece);
        assertNotSame(piece, out);
        assertEquals(0, read.refCnt(), "the 16 KiB buffer is no longer pinned by the waiting piece");
        assertEquals("ab", out.toString(StandardCharsets.US_ASCII));
        assertTrue(out.capacity() < 1024);
        out.release();
        ch.finishAndReleaseAll(); // the unsent earlier write is released with the channel
    }

    @Test
    void aSmallPieceIsCopiedWhenTheCallerKnowsItWaits() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ByteBuf read = readBuffer("ab");
        ByteBuf out = QueuedPieces.compact(ch, read, true);
        assertNotSame(read, out);
        assertEquals(0, read.refCnt());
        assertEquals("ab", out.toString(StandardCharsets.US_ASCII));
        out.release();
        ByteBuf goes = readBuffer("ab");
        assertSame(goes, QueuedPieces.compact(ch, goes, false));
        goes.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aPieceThatGoesStraightOutIsNotCopied() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ByteBuf piece = readBuffer("ab");
        assertSame(piece, QueuedPieces.compact(ch, piece));
        piece.release();
        assertFalse(ch.finishAndReleaseAll());
    }

    @Test
    void aPieceThatFillsMuchOfItsBufferIsNotCopied() {
        EmbeddedChannel ch = queued();
        ByteBuf piece = readBuffer("x".repeat(4096));
        assertSame(piece, QueuedPieces.compact(ch, piece));
        piece.release();
        ch.finishAndReleaseAll(); // the unsent earlier write is released with the channel
    }

    @Test
    void bodyPiecesKeepTheirKindAndTrailers() {
        EmbeddedChannel ch = queued();
        HttpContent body = new DefaultHttpContent(readBuffer("ab"));
        Object out = QueuedPieces.compact(ch, body);
        assertNotSame(body, out);
        assertEquals(0, body.refCnt());
        assertEquals("ab", ((HttpContent) out).content().toString(StandardCharsets.US_ASCII));
        ((HttpContent) out).release();

        LastHttpContent last = new DefaultLastHttpContent(readBuffer("cd"));
        last.trailingHeaders().set("grpc-status", "0");
        Object lastOut = QueuedPieces.compact(ch, last);
        assertTrue(lastOut instanceof LastHttpContent);
        assertEquals("0", ((LastHttpContent) lastOut).trailingHeaders().get("grpc-status"));
        ((LastHttpContent) lastOut).release();
        ch.finishAndReleaseAll(); // the unsent earlier write is released with the channel
    }
}
