package fulcrum.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real HTTP/2 (h2c, prior knowledge) server for tests of http2 target groups, built on Netty's
 * own server codec. It counts its connections and streams and answers by path:
 * {@code /big?n=N} N bytes sent as the stream's window allows (written bytes counted),
 * {@code /hang} never, {@code /echo} the request body, {@code /trailers} a body and trailers,
 * {@code /slow?ms=N} after N ms, anything else its name, the path and the connection's id.
 */
public final class H2Backend implements AutoCloseable {
    private final String name;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger streams = new AtomicInteger();
    private final AtomicLong bigWritten = new AtomicLong();
    private final List<Http2Headers> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger goAwaysReceived = new AtomicInteger();
    private final AtomicInteger closed = new AtomicInteger();
    private final AtomicInteger pings = new AtomicInteger();
    /** Every stream is refused unprocessed (RST_STREAM REFUSED_STREAM). */
    private volatile boolean refuse;
    /** Each answer is followed by GOAWAY on its connection, as a server going away does. */
    private volatile boolean goAwayAfterEach;
    /** Each request is answered by GOAWAY with last stream id 0: not processed, the connection closes. */
    private volatile boolean goAwayUnprocessed;
    /** Each call gets one gRPC message (a SimpleResponse "partial") and then RST_STREAM INTERNAL_ERROR. */
    private volatile boolean grpcReset;

    private H2Backend(String name, long maxConcurrentStreams) throws InterruptedException {
        this.name = name;
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
                                .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(maxConcurrentStreams))
                                .build();
                        ch.pipeline().addLast(codec);
                        ch.pipeline().addLast(new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel stream) {
                                streams.incrementAndGet();
                                stream.pipeline().addLast(new Stream(ch.id().asShortText(), codec));
                            }
                        }));
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Http2GoAwayFrame) {
                                    goAwaysReceived.incrementAndGet();
                                } else if (msg instanceof Http2PingFrame p && !p.ack()) {
                                    pings.incrementAndGet(); // the codec has answered it
                                }
                                ReferenceCountUtil.release(msg);
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                closed.incrementAndGet();
                            }
                        });
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    public static H2Backend start(String name) throws InterruptedException {
        return new H2Backend(name, 100);
    }

    public static H2Backend start(String name, long maxConcurrentStreams) throws InterruptedException {
        return new H2Backend(name, maxConcurrentStreams);
    }

    public String address() {
        return "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
    }

    public H2Backend refuse(boolean on) {
        refuse = on;
        return this;
    }

    public H2Backend goAwayUnprocessed(boolean on) {
        goAwayUnprocessed = on;
        return this;
    }

    public H2Backend grpcReset(boolean on) {
        grpcReset = on;
        return this;
    }

    public H2Backend goAwayAfterEach(boolean on) {
        goAwayAfterEach = on;
        return this;
    }

    /** GOAWAY frames received from clients. */
    public int goAwaysReceived() {
        return goAwaysReceived.get();
    }

    /** PINGs received from clients. */
    public int pings() {
        return pings.get();
    }

    /** Connections closed so far. */
    public int closed() {
        return closed.get();
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    public int streams() {
        return streams.get();
    }

    /** Body bytes written so far by {@code /big} streams. */
    public long bigWritten() {
        return bigWritten.get();
    }

    /** Request header blocks received, in order. */
    public List<Http2Headers> requests() {
        return requests;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Stream extends ChannelInboundHandlerAdapter {
        private final String connection;
        private final Http2FrameCodec codec;
        private String path;
        private ByteBuf body;
        private long bigLeft;

        Stream(String connection, Http2FrameCodec codec) {
            this.connection = connection;
            this.codec = codec;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame hf && path == null && refuse) {
                    requests.add(hf.headers());
                    path = "refused";
                    ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
                } else if (path == "refused") {
                    return;
                } else if (msg instanceof Http2HeadersFrame hf && path == null) {
                    requests.add(hf.headers());
                    path = hf.headers().path().toString();
                    body = ctx.alloc().buffer();
                    if (hf.isEndStream()) {
                        answer(ctx);
                    }
                } else if (msg instanceof Http2DataFrame df) {
                    body.writeBytes(df.content());
                    if (df.isEndStream()) {
                        answer(ctx);
                    }
                } else if (msg instanceof Http2HeadersFrame hf && hf.isEndStream()) {
                    answer(ctx);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void answer(ChannelHandlerContext ctx) {
            if (goAwayUnprocessed) {
                ChannelHandlerContext c = ctx.channel().parent().pipeline().context(codec);
                codec.goAway(c, 0, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, c.newPromise())
                        .addListener(f -> c.close());
                return;
            }
            if (grpcReset) {
                byte[] partial = "partial".getBytes(StandardCharsets.US_ASCII);
                ByteBuf m = Unpooled.buffer().writeByte(0).writeInt(partial.length + 2).writeByte(0x0a)
                        .writeByte(partial.length).writeBytes(partial);
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
                                                               .set("content-type", "application/grpc")));
                ctx.writeAndFlush(new DefaultHttp2DataFrame(m));
                ctx.executor().schedule(() -> ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR)),
                                        100, TimeUnit.MILLISECONDS);
                return;
            }
            if (path.startsWith("/hang")) {
                return;
            }
            if (path.startsWith("/slow")) {
                long ms = Long.parseLong(path.substring(path.indexOf('=') + 1));
                ctx.executor().schedule(() -> text(ctx, name + " slow"), ms, TimeUnit.MILLISECONDS);
                return;
            }
            if (path.startsWith("/big")) {
                bigLeft = Long.parseLong(path.substring(path.indexOf('=') + 1));
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
                                                               .set("content-length", Long.toString(bigLeft))));
                writeBig(ctx);
                return;
            }
            if (path.startsWith("/echo")) {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
                ctx.writeAndFlush(new DefaultHttp2DataFrame(body.retain(), true));
                return;
            }
            if (path.startsWith("/trailers")) {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")));
                ctx.write(new DefaultHttp2DataFrame(Unpooled.copiedBuffer("body", StandardCharsets.US_ASCII)));
                ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().set("x-checksum", "abc"), true));
                return;
            }
            text(ctx, name + " " + path + " conn=" + connection);
        }

        private void text(ChannelHandlerContext ctx, String s) {
            byte[] b = (s + "\n").getBytes(StandardCharsets.US_ASCII);
            ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
                                                           .set("content-type", "text/plain")
                                                           .set("content-length", Integer.toString(b.length))));
            ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(b), true));
            if (goAwayAfterEach) {
                ctx.channel().parent().writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
            }
        }

        /** Writes /big while the stream takes it: its window (flow control) is the only brake. */
        private void writeBig(ChannelHandlerContext ctx) {
            while (bigLeft > 0 && ctx.channel().isActive() && ctx.channel().isWritable()) {
                int n = (int) Math.min(16384, bigLeft);
                bigLeft -= n;
                bigWritten.addAndGet(n);
                ctx.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[n]), bigLeft == 0));
            }
            ctx.flush();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (bigLeft > 0) {
                writeBig(ctx);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            bigLeft = 0; // reset: nothing more is sent (or counted)
            if (body != null) {
                body.release();
                body = null;
            }
        }
    }
}
