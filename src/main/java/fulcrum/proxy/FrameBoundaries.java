package fulcrum.proxy;

import io.netty.buffer.ByteBuf;

/**
 * Follows the frame boundaries of one direction of a WebSocket byte stream (RFC 6455 5.2) by
 * reading each frame's header (2 to 14 bytes) and skipping its payload, so that a frame of the
 * balancer's own can be put between two frames. Frames are never decoded or copied.
 */
final class FrameBoundaries {
    private final byte[] head = new byte[14];
    private int headLength;
    private long payloadLeft;
    /** A length no frame can have (the 64-bit length's top bit set): boundaries are unknown from here. */
    private boolean lost;

    /** Whether the bytes seen so far end exactly at the end of a frame. */
    boolean atBoundary() {
        return !lost && headLength == 0 && payloadLeft == 0;
    }

    void feed(ByteBuf buf) {
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        while (i < end && !lost) {
            if (payloadLeft > 0) {
                int n = (int) Math.min(payloadLeft, end - i);
                payloadLeft -= n;
                i += n;
                continue;
            }
            head[headLength++] = buf.getByte(i++);
            int need = headerLength();
            if (need > 0 && headLength == need) {
                payloadLeft = payloadLength();
                headLength = 0;
                lost = payloadLeft < 0;
            }
        }
    }

    private int headerLength() {
        if (headLength < 2) {
            return -1;
        }
        int len7 = head[1] & 0x7f;
        int extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        int mask = (head[1] & 0x80) != 0 ? 4 : 0;
        return 2 + extended + mask;
    }

    private long payloadLength() {
        int len7 = head[1] & 0x7f;
        if (len7 < 126) {
            return len7;
        }
        int n = len7 == 126 ? 2 : 8;
        long v = 0;
        for (int k = 0; k < n; k++) {
            v = (v << 8) | (head[2 + k] & 0xff);
        }
        return v;
    }
}
