package fulcrum.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;

/**
 * The pipeline of an HTTP/2 connection to a target with prior knowledge (h2c): Netty's frame
 * codec and multiplexer, each request stream a child channel opened with
 * {@code Http2StreamChannelBootstrap}; {@code connection} gets the connection's own frames
 * (SETTINGS, PING acks, GOAWAY) after the multiplexer. Shared by the proxy's target connections
 * and anything else that speaks h2c to a target (health checks).
 */
public final class H2cClient {
    private H2cClient() {
    }

    /**
     * Adds the codec, the multiplexer and {@code connection} to {@code p}. Response header lists
     * over {@code maxHeaderListSize} bytes fail their stream. Closing the channel sends GOAWAY and
     * closes at once: a graceful end (GOAWAY, then streams finish) is the caller's to run.
     */
    public static void init(ChannelPipeline p, int maxHeaderListSize, ChannelHandler connection) {
        Http2Settings initial = Http2Settings.defaultSettings()
                .pushEnabled(false)
                .maxHeaderListSize(maxHeaderListSize);
        p.addLast("h2", Http2FrameCodecBuilder.forClient()
                .initialSettings(initial)
                .validateHeaders(true)
                .gracefulShutdownTimeoutMillis(0)
                // Streams past a lowered SETTINGS_MAX_CONCURRENT_STREAMS wait for room instead of failing.
                .encoderEnforceMaxConcurrentStreams(true)
                .build());
        p.addLast("mux", new Http2MultiplexHandler(RefuseStreams.INSTANCE));
        p.addLast("connection", connection);
    }

    /** Streams a target opens (pushes are turned off, so none should come): closed at once. */
    @ChannelHandler.Sharable
    private static final class RefuseStreams extends ChannelInboundHandlerAdapter {
        static final RefuseStreams INSTANCE = new RefuseStreams();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }
}
