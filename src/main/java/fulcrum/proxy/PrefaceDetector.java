package fulcrum.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Tells HTTP/2 from HTTP/1.1 by the first bytes a client sends: the HTTP/2 connection preface
 * (RFC 9113 3.4), sent by clients with prior knowledge (h2c) and by those that chose h2 by ALPN,
 * switches the connection to HTTP/2; anything else stays HTTP/1.1. Either way it leaves the
 * pipeline and hands on every byte it held.
 */
final class PrefaceDetector extends ByteToMessageDecoder {
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int n = Math.min(in.readableBytes(), PREFACE.length);
        for (int i = 0; i < n; i++) {
            if (in.getByte(in.readerIndex() + i) != PREFACE[i]) {
                ctx.pipeline().remove(this);
                return;
            }
        }
        if (n == PREFACE.length) {
            ctx.pipeline().get(FrontendHandler.class).startHttp2();
            ctx.pipeline().remove(this);
        }
    }
}
