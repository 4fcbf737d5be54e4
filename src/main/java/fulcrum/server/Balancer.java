package fulcrum.server;

import fulcrum.balance.HealthState;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.HealthCheckSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.health.HealthChecker;
import fulcrum.proxy.BackendPools;
import fulcrum.proxy.Connections;
import fulcrum.proxy.FrontendInitializer;
import fulcrum.proxy.ListenerContext;
import fulcrum.routing.RuleRouter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A running balancer: event loops, target groups, listeners. Started from settings in one call,
 * stopped in reverse order.
 */
public final class Balancer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Balancer.class);

    private final FulcrumSettings settings;
    private final Transport transport;
    private final EventLoopGroup loops;
    private final BackendPools pools;
    private final Map<String, TargetGroup> groups = new LinkedHashMap<>();
    private final List<ListenerContext> listeners = new ArrayList<>();
    private final List<Channel> serverChannels = new ArrayList<>();
    private final List<HealthChecker> healthCheckers = new ArrayList<>();
    private final ChannelGroup connections = new DefaultChannelGroup("clients", GlobalEventExecutor.INSTANCE);
    private volatile boolean stopped;

    private Balancer(FulcrumSettings settings) {
        this.settings = settings;
        this.transport = Transport.choose(settings.preferNativeTransport());
        int threads = settings.ioThreads() > 0 ? settings.ioThreads() : Runtime.getRuntime().availableProcessors();
        this.loops = new MultiThreadIoEventLoopGroup(threads, transport.ioHandlerFactory());
        this.pools = new BackendPools(transport.socketChannel());
    }

    /** Builds everything and binds every listener; on failure, what was started is stopped again. */
    public static Balancer start(FulcrumSettings settings) {
        Balancer b = new Balancer(settings);
        try {
            b.startGroups();
            b.groups.values().stream().filter(g -> g.settings().healthCheck().enabled()).forEach(
                    g -> b.healthCheckers.add(HealthChecker.start(g, b.loops, b.transport.socketChannel())));
            b.startListeners();
        } catch (RuntimeException e) {
            b.stop(Duration.ZERO);
            throw e;
        }
        return b;
    }

    private void startGroups() {
        for (TargetGroupSettings gs : settings.targetGroups().values()) {
            TargetGroup g = new TargetGroup(gs, secret(gs));
            g.addListener((group, target, from, to, reason) -> {
                HealthCheckSettings hc = group.settings().healthCheck();
                if (to == HealthState.UNHEALTHY && hc.onUnhealthy() == HealthCheckSettings.OnUnhealthy.CLOSE_CONNECTIONS) {
                    // A hung target would hold its clients until their own timeouts: close them so they reconnect.
                    pools.closeAll(target);
                } else if (to == HealthState.DRAINING || to == HealthState.UNHEALTHY) {
                    pools.closeIdle(target);
                }
            });
            if (g.hasNamedTargets()) {
                long every = gs.dnsRefreshInterval().toMillis();
                loops.next().scheduleWithFixedDelay(() -> g.refreshDns(t -> drainAndRemove(g, t, "no longer in DNS")),
                                                    every, every, TimeUnit.MILLISECONDS);
            }
            if (gs.stickiness().usesEngineIo()) {
                loops.next().scheduleAtFixedRate(() -> g.engineIo().sweep(System.nanoTime()), 10, 10, TimeUnit.SECONDS);
            }
            groups.put(gs.name(), g);
        }
    }

    /** Drains {@code target} and removes it from {@code group} once the deregistration delay is over. */
    public void drainAndRemove(TargetGroup group, fulcrum.balance.Target target, String reason) {
        group.drain(target, reason);
        loops.next().schedule(() -> {
            pools.closeAll(target);
            group.remove(target);
        }, group.settings().deregistrationDelay().toMillis(), TimeUnit.MILLISECONDS);
    }

    private byte[] secret(TargetGroupSettings gs) {
        String configured = gs.stickiness().secret();
        if (configured != null) {
            return configured.getBytes(StandardCharsets.UTF_8);
        }
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        if (gs.stickiness().usesCookie()) {
            log.warn("target group {}: stickiness.secret not set, generated a key for this process; "
                     + "other instances will not honour its cookies", gs.name());
        }
        return key;
    }

    private void startListeners() {
        if (settings.listeners().stream().anyMatch(l -> l.tls().enabled())) {
            log.info("TLS provider: {}", TlsContexts.describeProvider());
            TlsContexts.watchExpiry(loops.next(), settings.listeners());
        }
        for (ListenerSettings ls : settings.listeners()) {
            // Rules and TLS contexts are built once here; a bad certificate fails the start.
            Mapping<String, SslContext> sni = ls.tls().enabled() ? TlsContexts.sni(ls.tls()) : null;
            RuleRouter router = RuleRouter.of(ls, groups);
            ListenerContext ctx = new ListenerContext(ls, router, pools, sni != null);
            ServerBootstrap sb = new ServerBootstrap()
                    .group(loops)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.SO_KEEPALIVE, true)
                    .childHandler(new FrontendInitializer(ctx, connections, sni));
            InetSocketAddress addr = new InetSocketAddress(ls.bind().host(), ls.bind().port());
            Channel ch;
            try {
                ch = sb.bind(addr).syncUninterruptibly().channel();
            } catch (Exception e) {
                throw new IllegalStateException("listener " + ls.name() + ": cannot bind " + ls.bind() + ": "
                                                + e.getMessage(), e);
            }
            serverChannels.add(ch);
            ctx.boundPort(((InetSocketAddress) ch.localAddress()).getPort());
            listeners.add(ctx);
            log.info("listener {} listening on {} ({}, {}), {}", ls.name(), ch.localAddress(), transport.name(),
                     sni != null ? "https" : "http", String.join("; ", router.describe()));
        }
    }

    public Map<String, TargetGroup> targetGroups() {
        return Collections.unmodifiableMap(groups);
    }

    public BackendPools pools() {
        return pools;
    }

    public EventLoopGroup loops() {
        return loops;
    }

    public Transport transport() {
        return transport;
    }

    /** The address listener {@code i} is bound to (its real port when configured with port 0). */
    public InetSocketAddress listenerAddress(int i) {
        return (InetSocketAddress) serverChannels.get(i).localAddress();
    }

    /**
     * Stops accepting, lets in-flight requests finish within {@code grace}, then closes what is
     * left (tunnels included) and the event loops.
     */
    public synchronized void stop(Duration grace) {
        if (stopped) {
            return;
        }
        stopped = true;
        healthCheckers.forEach(HealthChecker::stop);
        listeners.forEach(l -> l.stopping(true));
        for (Channel ch : serverChannels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        Connections.shutdown(connections);
        long deadline = System.nanoTime() + grace.toNanos();
        while (!connections.isEmpty() && System.nanoTime() < deadline) {
            sleep(50);
        }
        if (!connections.isEmpty()) {
            log.info("shutdown grace over, closing {} connections", connections.size());
        }
        Connections.forceClose(connections);
        connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        log.info("stopped");
    }

    /** Whether any request or tunnel is still open; used by shutdown to wait. */
    public int openConnections() {
        return connections.size();
    }

    @Override
    public void close() {
        stop(settings.shutdownGrace());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
