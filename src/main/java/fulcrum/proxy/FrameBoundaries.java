package fulcrum.proxy;

import io.netty.buffer.ByteBuf;

/**
 * Follows the frame boundaries of one direction of a WebSocket byte stream (RFC 6455 5.2) by
 * reading each frame's header (2 to 14 bytes) and skipping its payload, so that a frame of the
 * balancer's own can be put between two frames. Frames are never decoded or copied.
 */
final class FrameBoundaries {
    /** Header bytes of the current frame seen so far; 0 between frames. */
    private int headLength;
    /** The header's second byte: the mask bit and the 7-bit length. */
    private int second;
    /** The 16- or 64-bit extended length as far as its bytes have come (fields, not an array: less heap per tunnel). */
    private long extended;
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
            int b = buf.getByte(i++) & 0xff;
            headLength++;
            if (headLength == 2) {
                second = b;
            } else if (headLength > 2 && headLength <= 2 + extendedBytes()) {
                extended = (extended << 8) | b;
            }
            if (headLength >= 2 && headLength == 2 + extendedBytes() + ((second & 0x80) != 0 ? 4 : 0)) {
                int len7 = second & 0x7f;
                payloadLeft = len7 < 126 ? len7 : extended;
                headLength = 0;
                extended = 0;
                lost = payloadLeft < 0;
            }
        }
    }

    private int extendedBytes() {
        int len7 = second & 0x7f;
        return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    }
}
