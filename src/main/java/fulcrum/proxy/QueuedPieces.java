package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;

/**
 * Copies a small piece out of its large read buffer when it has to wait in a write queue. Netty's
 * write high water mark counts a queued piece by its readable bytes, but the piece keeps its whole
 * read buffer alive (up to 64 KiB as the read size adapts): a peer that trickles byte-sized pieces
 * towards one that does not read would pin a whole buffer per piece, far past the mark. Pieces that go
 * straight out (nothing queued before them) are not copied, so a peer that keeps up costs nothing.
 */
final class QueuedPieces {
    /** A piece at most this share of its read buffer is copied: 2 KiB of a 16 KiB buffer. */
    private static final int WASTE_FACTOR = 8;

    private QueuedPieces() {
    }

    /** {@code msg}, or a compact copy of it (the original released) when it would wait wastefully. */
    static Object compact(Channel dest, Object msg) {
        if (msg instanceof ByteBuf buf) {
            return compact(dest, buf);
        }
        if (msg instanceof HttpContent c && !(msg instanceof HttpResponse) && wasteful(dest, c.content())) {
            HttpContent copy = c.replace(copyOf(dest, c.content()));
            c.release();
            return copy;
        }
        return msg;
    }

    static ByteBuf compact(Channel dest, ByteBuf buf) {
        return compact(dest, buf, wasteful(dest, buf));
    }

    /**
     * {@code buf}, or a compact copy of it when it is small for its buffer and {@code waits}: for a
     * destination whose queue is not the channel's own (an HTTP/2 stream's, held by flow control).
     */
    static ByteBuf compact(Channel dest, ByteBuf buf, boolean waits) {
        if (!waits || !small(buf)) {
            return buf;
        }
        ByteBuf copy = copyOf(dest, buf);
        buf.release();
        return copy;
    }

    private static ByteBuf copyOf(Channel dest, ByteBuf buf) {
        return dest.alloc().buffer(buf.readableBytes()).writeBytes(buf, buf.readerIndex(), buf.readableBytes());
    }

    private static boolean wasteful(Channel dest, ByteBuf buf) {
        if (!small(buf)) {
            return false;
        }
        ChannelOutboundBuffer queue = dest.unsafe().outboundBuffer();
        return queue != null && queue.totalPendingWriteBytes() > 0;
    }

    /** A piece (not empty) that holds at most a small share of the buffer it was read into. */
    private static boolean small(ByteBuf buf) {
        int n = buf.readableBytes();
        if (n == 0) {
            return false;
        }
        ByteBuf root = buf;
        while (root.unwrap() != null) {
            root = root.unwrap();
        }
        return n <= root.capacity() / WASTE_FACTOR;
    }
}
