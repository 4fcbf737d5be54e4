package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameBoundariesTest {
    private static boolean feed(FrameBoundaries f, int... bytes) {
        ByteBuf b = Unpooled.buffer();
        for (int x : bytes) {
            b.writeByte(x);
        }
        f.feed(b);
        b.release();
        return f.atBoundary();
    }

    @Test
    void shortFrameByteByByte() {
        FrameBoundaries f = new FrameBoundaries();
        assertTrue(f.atBoundary());
        assertFalse(feed(f, 0x81));
        assertFalse(feed(f, 0x02));
        assertFalse(feed(f, 'h'));
        assertTrue(feed(f, 'i'));
    }

    @Test
    void extendedLengthsMaskAndEmptyFrames() {
        FrameBoundaries f = new FrameBoundaries();
        // 16-bit length 300, then an empty ping, in one buffer: ends at a boundary.
        ByteBuf b = Unpooled.buffer().writeByte(0x82).writeByte(126).writeShort(300).writeZero(300)
                                     .writeByte(0x89).writeByte(0x00);
        f.feed(b);
        b.release();
        assertTrue(f.atBoundary());
        // 64-bit length 70000, masked (client style): boundary only after the last payload byte.
        ByteBuf h = Unpooled.buffer().writeByte(0x82).writeByte(0x80 | 127).writeLong(70_000).writeInt(0x01020304);
        f.feed(h);
        h.release();
        assertFalse(f.atBoundary());
        ByteBuf p = Unpooled.buffer().writeZero(69_999);
        f.feed(p);
        p.release();
        assertFalse(f.atBoundary());
        assertTrue(feed(f, 0));
    }

    @Test
    void headerSplitAcrossReadsByteByByte() {
        FrameBoundaries f = new FrameBoundaries();
        // Masked, 16-bit length 258 (0x0102): each header byte arrives alone.
        for (int b : new int[] {0x82, 0x80 | 126, 0x01, 0x02, 1, 2, 3}) {
            assertFalse(feed(f, b));
        }
        assertFalse(feed(f, 4)); // the last mask byte: the payload follows
        ByteBuf p = Unpooled.buffer().writeZero(257);
        f.feed(p);
        p.release();
        assertFalse(f.atBoundary());
        assertTrue(feed(f, 0));
        // The next frame's 7-bit length is read afresh, not from the last frame's extended length.
        assertFalse(feed(f, 0x81, 0x01));
        assertTrue(feed(f, 'x'));
    }

    @Test
    void impossibleLengthLosesTrack() {
        FrameBoundaries f = new FrameBoundaries();
        assertFalse(feed(f, 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0));
        assertFalse(feed(f, 0x81, 0));
    }
}
