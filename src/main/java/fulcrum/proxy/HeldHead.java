package fulcrum.proxy;

import fulcrum.http.FlatHeaders;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * An HTTP/1.1 message whose body is delimited by Content-Length or absent, written by its encoder
 * without Netty's HttpObjectEncoder: the encoded head waits for the body's first piece and goes
 * out with it in one buffer when the piece fits (a proxied response or request usually arrives
 * whole in one read), so the message is one write, not a head, a body and an empty last piece.
 * The body passes through unchanged; a flush, or anything that is not a piece of it, sends the
 * head first.
 */
final class HeldHead {
    /** Body bytes that may share the head's buffer; larger bodies go as their own buffer. */
    static final int MERGED_BODY = 2048;

    private static final short CRLF = ('\r' << 8) | '\n';

    private ByteBuf held;
    /** A message started here whose last piece has not been written yet. */
    private boolean open;
    /** A message the encoder itself (Netty's) has started and not ended. */
    private boolean encoderOpen;
    /** The size to allocate for a head, from the last one's. */
    private int headSize = 256;

    /** Encodes a head as the encoder would: its first line, then its fields. */
    interface Head<M extends HttpMessage> {
        void firstLine(ByteBuf buf, M m) throws Exception;

        void fields(HttpHeaders headers, ByteBuf buf);
    }

    /**
     * Starts {@code m} here when it is between messages, its promise is void and its body's
     * length is known from Content-Length (or it has none); false leaves it to the encoder.
     */
    <M extends HttpMessage> boolean start(ChannelHandlerContext ctx, M m, ChannelPromise promise, Head<M> head)
            throws Exception {
        if (open || encoderOpen || !promise.isVoid() || m instanceof HttpContent) {
            return false;
        }
        HttpHeaders h = m.headers();
        if (h.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return false;
        }
        CharSequence value = h instanceof FlatHeaders f ? f.value(HttpHeaderNames.CONTENT_LENGTH)
                                                         : h.get(HttpHeaderNames.CONTENT_LENGTH);
        // A request without Content-Length has no body; a response without one runs to the close.
        long length = value != null ? length(value) : m instanceof HttpRequest ? 0 : -1;
        if (length < 0) {
            return false;
        }
        ByteBuf buf = ctx.alloc().buffer(headSize + (int) Math.min(length, MERGED_BODY));
        try {
            head.firstLine(buf, m);
            head.fields(h, buf);
            buf.writeShort(CRLF);
        } catch (Throwable t) {
            buf.release();
            throw t;
        }
        headSize = Math.max(64, buf.readableBytes() + 32);
        held = buf;
        open = true;
        return true;
    }

    /** A Content-Length value's number; -1 when it is not one (the encoder then writes it as it is). */
    private static long length(CharSequence value) {
        if (value.length() == 0 || value.length() > 18) {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + c - '0';
        }
        return n;
    }

    /** Told of each message the encoder takes itself, to know when it is between messages. */
    void passed(Object msg) {
        if (msg instanceof LastHttpContent) {
            encoderOpen = false;
        } else if (msg instanceof HttpMessage) {
            encoderOpen = !(msg instanceof FullHttpMessage);
        }
    }

    /**
     * Writes {@code msg} when it is a piece of the open message; false when no message is open,
     * and the caller's encoder takes it.
     */
    boolean write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!open) {
            return false;
        }
        if (!(msg instanceof HttpContent c)) {
            // Raw bytes inside a length-delimited body pass as they are, as Netty's encoder passes them.
            writeHeld(ctx);
            ctx.write(msg, promise);
            return true;
        }
        if (c instanceof LastHttpContent) {
            open = false; // trailers have no place in a length-delimited message
        }
        ByteBuf content = c.content();
        int length = content.readableBytes();
        if (held != null && length <= held.maxFastWritableBytes()) {
            held.writeBytes(content, content.readerIndex(), length);
            c.release();
            ByteBuf whole = held;
            held = null;
            ctx.write(whole, promise);
            return true;
        }
        writeHeld(ctx);
        if (length > 0) {
            ctx.write(content.retain(), promise);
        } else {
            promise.trySuccess(); // nothing to send (a void promise ignores it)
        }
        c.release();
        return true;
    }

    /** Sends a head still waiting for its body: before a flush or a close. */
    void writeHeld(ChannelHandlerContext ctx) {
        if (held != null) {
            ByteBuf h = held;
            held = null;
            ctx.write(h, ctx.voidPromise());
        }
    }

    /** The encoder leaves the pipeline: a head not written is dropped with it. */
    void discard() {
        if (held != null) {
            held.release();
            held = null;
        }
        open = false;
    }
}
