package fulcrum.health;

import fulcrum.config.HealthCheckSettings;
import fulcrum.config.TargetGroupSettings.ProtocolVersion;
import fulcrum.proxy.H2cClient;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One health check of one target: a TCP connect, or an HTTP request in the group's protocol
 * version (HTTP/1.1, HTTP/2 or gRPC over h2c) whose answer decides. The
 * whole check, connect included, must finish within the timeout. The returned future always
 * succeeds, with a failed {@link ProbeResult} when the target did not pass.
 */
final class Probe {
    private static final int MAX_HEAD = 16 * 1024;

    private Probe() {
    }

    /**
     * Runs a check of {@code address} on {@code loop}. {@code hostHeader} is what the HTTP
     * request's Host says.
     */
    static Future<ProbeResult> run(HealthCheckSettings hc, InetSocketAddress address, String hostHeader,
                                   EventLoop loop, Class<? extends SocketChannel> channelClass) {
        Promise<ProbeResult> result = loop.newPromise();
        Duration timeout = hc.timeout();
        ChannelHandler handler = new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                if (hc.protocol() == HealthCheckSettings.Protocol.TCP) {
                    return;
                }
                if (hc.version() == ProtocolVersion.HTTP1) {
                    HttpDecoderConfig decoder = new HttpDecoderConfig()
                            .setMaxInitialLineLength(4096)
                            .setMaxHeaderSize(MAX_HEAD)
                            .setMaxChunkSize(8192);
                    ch.pipeline().addLast(new HttpClientCodec(decoder, false, false),
                                          new HttpProbeHandler(result, hc.path(), hostHeader, hc.matcher(), timeout));
                    return;
                }
                // h2c with prior knowledge, the pipeline the group's traffic goes on; heads bounded as for HTTP/1.1.
                H2cClient.init(ch.pipeline(), MAX_HEAD,
                               new H2ProbeHandler.Connection(result, new H2ProbeHandler(result, hc, hostHeader)));
            }
        };
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .handler(handler);
        ChannelFuture connect = b.connect(address);
        Channel ch = connect.channel();
        ScheduledFuture<?> deadline = loop.schedule(() -> result.trySuccess(ProbeResult.timeout(timeout)),
                                                    timeout.toNanos(), TimeUnit.NANOSECONDS);
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                result.trySuccess(ProbeResult.of(f.cause(), timeout));
            } else if (ch.localAddress() != null && ch.localAddress().equals(ch.remoteAddress())) {
                // Linux lets a connect to a closed local port in the ephemeral range meet itself.
                result.trySuccess(ProbeResult.failed("connection refused"));
            } else if (hc.protocol() == HealthCheckSettings.Protocol.TCP) {
                result.trySuccess(ProbeResult.passed("connected"));
            }
        });
        // Whatever ended the check, the connection has done its work.
        result.addListener(f -> {
            deadline.cancel(false);
            ch.close();
        });
        return result;
    }
}
