package fulcrum.admin;

import fulcrum.config.AdminSettings;
import fulcrum.server.AcceptErrors;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The admin API's own listener, on the balancer's event loops: HTTP/1.1 with small, aggregated
 * requests. The token check and /healthz answer on the event loop; everything else runs on the
 * operations thread ({@link AdminApi}) and its answer is written back from there.
 */
final class AdminServer {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final int MAX_REQUEST = 64 * 1024;

    private final Channel server;
    private final ChannelGroup clients;

    private AdminServer(Channel server, ChannelGroup clients) {
        this.server = server;
        this.clients = clients;
    }

    static AdminServer start(AdminSettings s, Operations ops) {
        byte[] tokenDigest = s.token() == null ? null : sha256("Bearer " + s.token());
        AdminApi api = new AdminApi(ops);
        DashboardAssets assets = DashboardAssets.load();
        ChannelGroup clients = new DefaultChannelGroup("admin", GlobalEventExecutor.INSTANCE);
        ServerBootstrap b = new ServerBootstrap()
                .group(ops.balancer().loops())
                .channel(ops.balancer().transport().serverChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(new AcceptErrors("admin API"))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        clients.add(ch);
                        ch.pipeline().addLast(new IdleStateHandler(0, 0, 60, TimeUnit.SECONDS) {
                                    @Override
                                    protected void channelIdle(ChannelHandlerContext ctx,
                                                               io.netty.handler.timeout.IdleStateEvent e) {
                                        ctx.close();
                                    }
                                })
                                .addLast(new HttpServerCodec(4096, 8192, 8192))
                                .addLast(new HttpObjectAggregator(MAX_REQUEST))
                                .addLast(new Handler(api, assets, tokenDigest));
                    }
                });
        ops.balancer().transport().configureChildren(b);
        InetSocketAddress addr = new InetSocketAddress(s.bind().host(), s.bind().port());
        Channel ch;
        try {
            ch = b.bind(addr).syncUninterruptibly().channel();
        } catch (Exception e) {
            throw new IllegalStateException("admin API: cannot bind " + s.bind() + ": " + e.getMessage(), e);
        }
        AdminServer server = new AdminServer(ch, clients);
        log.info("admin API listening on {}{}", ch.localAddress(), tokenDigest == null ? "" : " (token required)");
        return server;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    void stop() {
        server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One admin connection: authenticates, then answers each request in order. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final AdminApi api;
        private final DashboardAssets assets;
        private final byte[] tokenDigest;

        Handler(AdminApi api, DashboardAssets assets, byte[] tokenDigest) {
            this.api = api;
            this.assets = assets;
            this.tokenDigest = tokenDigest;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            if (!req.decoderResult().isSuccess()) {
                write(ctx, AdminApi.Answer.error(400, "malformed request"), false);
                return;
            }
            if (serveAsset(ctx, req, keepAlive)) {
                return;
            }
            if (tokenDigest == null && !addressedByIp(req)) {
                write(ctx, AdminApi.Answer.error(421, "without a token the admin API answers only requests to its "
                                                      + "address or localhost, not to Host "
                                                      + req.headers().get(HttpHeaderNames.HOST)), false);
                return;
            }
            if (crossOriginChange(req)) {
                write(ctx, AdminApi.Answer.error(403, "cross-origin request refused: Origin "
                                                      + req.headers().get(HttpHeaderNames.ORIGIN)), keepAlive);
                return;
            }
            if (!authorized(req)) {
                write(ctx, AdminApi.Answer.error(401, "missing or wrong Authorization: Bearer token"), keepAlive);
                return;
            }
            AdminApi.Call call = new AdminApi.Call(req.method().name(), req.uri(),
                                                   req.content().toString(StandardCharsets.UTF_8));
            if (call.path().equals("/healthz")) {
                write(ctx, api.healthz(call), keepAlive);
                return;
            }
            // Requests of one connection are answered in order: reads stop until this one is answered.
            ctx.channel().config().setAutoRead(false);
            try {
                api.ops().execute(() -> {
                    AdminApi.Answer a = api.handle(call);
                    ctx.channel().eventLoop().execute(() -> {
                        write(ctx, a, keepAlive);
                        ctx.channel().config().setAutoRead(true);
                    });
                });
            } catch (RejectedExecutionException e) {
                write(ctx, AdminApi.Answer.error(503, "stopping"), false);
            }
        }

        /** Answers GET and HEAD of the dashboard's files; false for any other request. */
        private boolean serveAsset(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive) {
            boolean head = req.method().equals(HttpMethod.HEAD);
            if (!head && !req.method().equals(HttpMethod.GET)) {
                return false;
            }
            String uri = req.uri();
            int q = uri.indexOf('?');
            DashboardAssets.Asset a = assets.get(q < 0 ? uri : uri.substring(0, q));
            if (a == null) {
                return false;
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                                                               head ? Unpooled.EMPTY_BUFFER
                                                                    : Unpooled.wrappedBuffer(a.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType())
               .set(HttpHeaderNames.CONTENT_LENGTH, a.body().length)
               .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE)
               .set(HttpHeaderNames.CONTENT_SECURITY_POLICY, DashboardAssets.CSP)
               .set("X-Content-Type-Options", "nosniff")
               .set("Referrer-Policy", "no-referrer");
            HttpUtil.setKeepAlive(res, keepAlive);
            if (keepAlive) {
                ctx.writeAndFlush(res, ctx.voidPromise());
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
            return true;
        }

        /**
         * A browser asking for a change on behalf of another site's page (a form posting to a
         * loopback admin API that needs no token): its Origin is not this API's own. Clients
         * that are not browsers send no Origin and are not concerned.
         */
        private static boolean crossOriginChange(FullHttpRequest req) {
            String origin = req.headers().get(HttpHeaderNames.ORIGIN);
            if (origin == null || req.method().equals(HttpMethod.GET) || req.method().equals(HttpMethod.HEAD)) {
                return false;
            }
            String host = req.headers().get(HttpHeaderNames.HOST);
            // Either scheme: a TLS proxy in front of the API makes the page's origin https.
            int scheme = origin.indexOf("://");
            return host == null || scheme < 0 || !origin.substring(scheme + 3).equalsIgnoreCase(host);
        }

        /**
         * Whether the request names this API by an IP address or localhost. A name that is not
         * ours is how DNS rebinding reaches a loopback API from another site's page in the
         * operator's browser; with a token that page gets nothing, without one it would read and
         * change everything.
         */
        private static boolean addressedByIp(FullHttpRequest req) {
            String host = req.headers().get(HttpHeaderNames.HOST);
            if (host == null) {
                return true; // HTTP/1.0 clients; browsers always send Host
            }
            String name;
            if (host.startsWith("[")) {
                int end = host.indexOf(']');
                name = end < 0 ? host : host.substring(1, end);
            } else {
                int colon = host.lastIndexOf(':');
                name = colon < 0 ? host : host.substring(0, colon);
            }
            return name.equalsIgnoreCase("localhost") || NetUtil.isValidIpV4Address(name)
                   || NetUtil.isValidIpV6Address(name);
        }

        /** Compares digests of the header and the expected value: constant time, whatever the lengths. */
        private boolean authorized(FullHttpRequest req) {
            if (tokenDigest == null) {
                return true;
            }
            String given = req.headers().get(HttpHeaderNames.AUTHORIZATION);
            return given != null && MessageDigest.isEqual(tokenDigest, sha256(given));
        }

        private static void write(ChannelHandlerContext ctx, AdminApi.Answer a, boolean keepAlive) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                               HttpResponseStatus.valueOf(a.status()),
                                                               Unpooled.wrappedBuffer(a.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType())
               .set(HttpHeaderNames.CONTENT_LENGTH, a.body().length)
               .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
            if (a.status() == 401) {
                res.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            }
            HttpUtil.setKeepAlive(res, keepAlive);
            if (keepAlive) {
                ctx.writeAndFlush(res, ctx.voidPromise());
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("[{}] admin connection: {}", ctx.channel().id(), cause.toString());
            ctx.close();
        }
    }
}
