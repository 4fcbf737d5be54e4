package fulcrum.health;

import fulcrum.config.HealthCheckSettings;
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
 * One health check of one target: a TCP connect, or an HTTP GET whose status line decides. The
 * whole check, connect included, must finish within the timeout. The returned future always
 * succeeds, with a failed {@link ProbeResult} when the target did not pass.
 */
final class Probe {
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
                if (hc.protocol() == HealthCheckSettings.Protocol.HTTP) {
                    HttpDecoderConfig decoder = new HttpDecoderConfig()
                            .setMaxInitialLineLength(4096)
                            .setMaxHeaderSize(16 * 1024)
                            .setMaxChunkSize(8192);
                    ch.pipeline().addLast(new HttpClientCodec(decoder, false, false),
                                          new HttpProbeHandler(result, hc.path(), hostHeader, hc.matcher(), timeout));
                }
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
