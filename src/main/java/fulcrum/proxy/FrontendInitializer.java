package fulcrum.proxy;

import fulcrum.config.ListenerSettings;
import fulcrum.http.RequestDecoder;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Builds a client connection's pipeline: TLS (on HTTPS listeners), the HTTP/2 preface detector
 * (unless HTTP/2 is off), request decoder, response encoder, proxy handler. The TLS handler stays when a WebSocket tunnel removes the HTTP codecs.
 */
public final class FrontendInitializer extends ChannelInitializer<SocketChannel> {
    private static final Logger log = LoggerFactory.getLogger(FrontendInitializer.class);
    private static final long REFUSAL_LOG_INTERVAL_NANOS = 10_000_000_000L;

    private final ListenerContext listener;
    private final ChannelGroup connections;
    private final Mapping<String, SslContext> sni;
    private final AtomicLong lastRefusalLog = new AtomicLong(System.nanoTime() - REFUSAL_LOG_INTERVAL_NANOS);

    /** {@code sni}: the TLS contexts by SNI name of an HTTPS listener, null for plain HTTP. */
    public FrontendInitializer(ListenerContext listener, ChannelGroup connections, Mapping<String, SslContext> sni) {
        this.listener = listener;
        this.connections = connections;
        this.sni = sni;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ListenerSettings s = listener.settings();
        int max = s.maxConnections();
        if (listener.stopping() || (max > 0 && listener.openConnections() >= max)) {
            refuse(ch, max);
            return;
        }
        connections.add(ch);
        if (sni != null) {
            // The handshake must finish within the header timeout, as a request head must.
            ch.pipeline().addLast(FrontendHandler.TLS, new SniHandler(sni, s.headerTimeout().toMillis()));
        }
        if (s.http2().enabled()) {
            ch.pipeline().addLast(FrontendHandler.PREFACE, new PrefaceDetector());
        }
        ch.pipeline()
          .addLast(FrontendHandler.DECODER, new RequestDecoder(s.limits()))
          .addLast(FrontendHandler.ENCODER, new ResponseEncoder())
          .addLast(FrontendHandler.HANDLER, new FrontendHandler(listener));
    }

    private void refuse(SocketChannel ch, int max) {
        long now = System.nanoTime();
        long last = lastRefusalLog.get();
        if (now - last >= REFUSAL_LOG_INTERVAL_NANOS && lastRefusalLog.compareAndSet(last, now)) {
            log.warn("listener {}: connection limit {} reached, refusing connections (logged every 10 s)",
                     listener.settings().name(), max);
        }
        ch.close();
    }
}
