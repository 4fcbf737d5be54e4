package fulcrum.server;

import fulcrum.balance.HealthState;
import fulcrum.balance.SessionStore;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.HealthCheckSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.config.TargetGroupSettings;
import fulcrum.health.HealthChecker;
import fulcrum.proxy.BackendPools;
import fulcrum.proxy.Connections;
import fulcrum.proxy.ExchangeObserver;
import fulcrum.proxy.FrontendInitializer;
import fulcrum.proxy.ListenerContext;
import fulcrum.routing.RuleRouter;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.Mapping;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
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
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

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
    private final Hooks hooks;
    /** Replaced whole (never changed in place) when a reload adds or removes a group. */
    private volatile Map<String, TargetGroup> groups = Map.of();
    private final List<ListenerContext> listeners = new ArrayList<>();
    private final List<Channel> serverChannels = new ArrayList<>();
    /** By group name; changed only under this object's lock. */
    private final Map<String, HealthChecker> healthCheckers = new LinkedHashMap<>();
    private final ChannelGroup connections = new DefaultChannelGroup("clients", GlobalEventExecutor.INSTANCE);
    private volatile boolean stopped;

    /**
     * What the operations side (metrics, access log) attaches to the data path: an observer per
     * listener, in place before the listener accepts its first connection, one for health
     * check results, and one told of every group's target changes (groups added later too).
     */
    public record Hooks(Function<ListenerSettings, ExchangeObserver> observers,
                       HealthChecker.ProbeObserver probes, TargetGroup.Listener states, SessionStore sessions,
                       Consumer<Balancer> beforeListeners) {
        public static final Hooks NONE = new Hooks(l -> ExchangeObserver.NONE, HealthChecker.ProbeObserver.NONE);

        public Hooks(Function<ListenerSettings, ExchangeObserver> observers, HealthChecker.ProbeObserver probes) {
            this(observers, probes, (group, target, from, to, reason) -> { });
        }

        /** Sessions not shared with other instances, nothing to do before the listeners start. */
        public Hooks(Function<ListenerSettings, ExchangeObserver> observers, HealthChecker.ProbeObserver probes,
                     TargetGroup.Listener states) {
            this(observers, probes, states, SessionStore.NONE, b -> { });
        }
    }

    private final Map<String, List<ScheduledFuture<?>>> groupTasks = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile BiConsumer<TargetGroup, Target> deregistration = this::drainAndRemove;
    /** What happens when the balancer can no longer serve: an event loop died, buffer memory ran out. */
    private volatile Consumer<String> fatal = log::error;

    private Balancer(FulcrumSettings settings, Hooks hooks) {
        this.settings = settings;
        this.hooks = hooks;
        int threads = settings.ioThreads() > 0 ? settings.ioThreads() : Runtime.getRuntime().availableProcessors();
        GuardedAllocator allocator = new GuardedAllocator(Transport.POOLED, reason -> fatal.accept(reason));
        Transport t = Transport.choose(settings.transport(), allocator);
        MultiThreadIoEventLoopGroup group;
        try {
            group = new MultiThreadIoEventLoopGroup(threads, t.ioHandlerFactory());
        } catch (RuntimeException | LinkageError e) {
            if (settings.transport() != FulcrumSettings.TransportKind.AUTO) {
                throw e;
            }
            // A kernel can offer io_uring and still refuse rings, e.g. past a locked-memory limit.
            Transport next = t.fallback();
            log.warn("transport {} could not start its event loops ({}); using {}", t.name(), e.toString(),
                     next.name());
            t = next;
            group = new MultiThreadIoEventLoopGroup(threads, t.ioHandlerFactory());
        }
        this.transport = t;
        this.loops = group;
        watch(group);
        this.pools = new BackendPools(transport.configure(new Bootstrap().channel(transport.socketChannel())),
                                      transport.inet4Channels());
    }

    /**
     * An event loop that ends before {@link #stop} was called died of an error that escaped it (an
     * OutOfMemoryError, say): its connections and its share of every listener's accepts are gone,
     * and the rest of the process cannot bring them back.
     */
    private void watch(EventLoopGroup group) {
        int i = 0;
        for (EventExecutor e : group) {
            String name = "event loop " + i++ + " of " + transport.name();
            e.terminationFuture().addListener(f -> {
                if (!stopped) {
                    fatal.accept(name + " ended on its own (an error escaped it; see the exception logged before)");
                }
            });
        }
    }

    /**
     * What happens, with a reason, when the balancer can no longer serve: an event loop died (see
     * {@link #watch}), or the first time a buffer could not be allocated for want of memory (see
     * {@link GuardedAllocator}). By default it is logged. The command line exits instead, so that
     * the service manager starts a whole process again.
     */
    public void onFatal(Consumer<String> action) {
        this.fatal = requireNonNull(action, "action");
    }

    /** Builds everything and binds every listener; on failure, what was started is stopped again. */
    public static Balancer start(FulcrumSettings settings) {
        return start(settings, Hooks.NONE);
    }

    /** As {@link #start(FulcrumSettings)}, with the operations side's {@code hooks} attached. */
    public static Balancer start(FulcrumSettings settings, Hooks hooks) {
        Balancer b = new Balancer(settings, requireNonNull(hooks, "hooks"));
        try {
            b.startGroups();
            hooks.beforeListeners().accept(b);
            b.startListeners();
        } catch (RuntimeException e) {
            b.stop(Duration.ZERO);
            throw e;
        }
        return b;
    }

    private void startGroups() {
        Map<String, TargetGroup> all = new LinkedHashMap<>();
        for (TargetGroupSettings gs : settings.targetGroups().values()) {
            all.put(gs.name(), newGroup(gs));
        }
        groups = Collections.unmodifiableMap(all);
    }

    /** A group with its state listener and, when enabled, its health checks running. */
    private synchronized TargetGroup newGroup(TargetGroupSettings gs) {
        TargetGroup g = new TargetGroup(gs, secret(gs));
        g.addListener(hooks.states());
        g.engineIo().share(gs.name(), hooks.sessions());
        g.addListener((group, target, from, to, reason) -> {
            HealthCheckSettings hc = group.settings().healthCheck();
            if (to == HealthState.UNHEALTHY && hc.onUnhealthy() == HealthCheckSettings.OnUnhealthy.CLOSE_CONNECTIONS) {
                // A hung target would hold its clients until their own timeouts: close them so they reconnect.
                pools.closeAll(target);
            } else if (to == HealthState.DRAINING || to == HealthState.UNHEALTHY) {
                pools.closeIdle(target);
            }
        });
        if (gs.healthCheck().enabled()) {
            healthCheckers.put(gs.name(), HealthChecker.start(g, loops, transport.socketChannel(), hooks.probes()));
        }
        List<ScheduledFuture<?>> tasks = new ArrayList<>();
        if (g.hasNamedTargets()) {
            long every = gs.dnsRefreshInterval().toMillis();
            tasks.add(loops.next().scheduleWithFixedDelay(
                    () -> g.refreshDns(t -> deregistration.accept(g, t)), every, every, TimeUnit.MILLISECONDS));
        }
        if (gs.stickiness().usesEngineIo()) {
            tasks.add(loops.next().scheduleAtFixedRate(() -> g.engineIo().sweep(System.nanoTime()), 10, 10,
                                                       TimeUnit.SECONDS));
        }
        groupTasks.put(gs.name(), tasks);
        return g;
    }

    /**
     * How a target that left (DNS no longer lists it) is taken out: by default drained and removed
     * after the deregistration delay; the operations layer replaces this with its paced drainer.
     */
    public void deregistration(BiConsumer<TargetGroup, Target> how) {
        this.deregistration = requireNonNull(how, "how");
    }

    private void drainAndRemove(TargetGroup group, Target target) {
        group.drain(target, "no longer in DNS");
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
            Mapping<String, SslContext> sni;
            try {
                sni = ls.tls().enabled() ? TlsContexts.sni(ls.tls(), ls.http2().enabled()) : null;
            } catch (RuntimeException e) {
                throw new IllegalStateException("listener " + ls.name() + ": " + e.getMessage(), e);
            }
            RuleRouter router = RuleRouter.of(ls, groups);
            ListenerContext ctx = new ListenerContext(ls, router, pools, sni != null);
            ctx.observer(hooks.observers().apply(ls));
            InetSocketAddress addr = new InetSocketAddress(ls.bind().host(), ls.bind().port());
            ServerBootstrap sb = new ServerBootstrap()
                    .group(loops)
                    .channelFactory(transport.serverChannels(addr.getAddress()))
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    // No TCP_NODELAY option: Netty sets it as it makes each socket, and setting
                    // it again was one more system call per connection.
                    .childOption(ChannelOption.SO_KEEPALIVE, true)
                    .handler(new AcceptErrors("listener " + ls.name()))
                    .childHandler(new FrontendInitializer(ctx, connections, sni));
            transport.configureChildren(sb);
            Channel ch;
            try {
                ch = sb.bind(addr).syncUninterruptibly().channel();
            } catch (Exception e) {
                throw BindException.of("listener " + ls.name(), ls.bind(), e);
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
        // Each step goes on past a dead event loop (its tasks are refused), so a stop still ends.
        healthCheckers.values().forEach(hc -> quietly(hc::stop, "stopping a health checker"));
        listeners.forEach(l -> l.stopping(true));
        for (Channel ch : serverChannels) {
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        int orphans = Connections.shutdown(connections);
        if (orphans > 0) {
            log.error("{} connections are on an event loop that died: they close when the process exits", orphans);
        }
        long deadline = System.nanoTime() + grace.toNanos();
        while (!connections.isEmpty() && System.nanoTime() < deadline) {
            sleep(50);
        }
        if (!connections.isEmpty()) {
            log.info("shutdown grace over, closing {} connections", connections.size());
        }
        Connections.forceClose(connections);
        connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        pools.closeEverything(5_000);
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        log.info("stopped");
    }

    // ---- runtime changes: the admin API and reloads (fulcrum.admin) ----

    /** The settings the balancer started with; a reload does not change them here. */
    public FulcrumSettings settings() {
        return settings;
    }

    /** Every listener, in the order of the settings. */
    public List<ListenerContext> listenerContexts() {
        return Collections.unmodifiableList(listeners);
    }

    /** Adds a target group (its health checks start at once); its name must be new. */
    public synchronized TargetGroup addGroup(TargetGroupSettings gs) {
        if (stopped || groups.containsKey(gs.name())) {
            throw new IllegalStateException("target group " + gs.name() + " exists, or the balancer is stopped");
        }
        TargetGroup g = newGroup(gs);
        Map<String, TargetGroup> next = new LinkedHashMap<>(groups);
        next.put(gs.name(), g);
        groups = Collections.unmodifiableMap(next);
        return g;
    }

    /**
     * Takes a target group out of the map and stops its health checks; its targets stay as they
     * are for the caller to drain. Routers still naming it must have been replaced first.
     */
    public synchronized TargetGroup removeGroup(String name) {
        TargetGroup g = groups.get(name);
        if (g == null) {
            return null;
        }
        HealthChecker hc = healthCheckers.remove(name);
        if (hc != null) {
            hc.stop();
        }
        List<ScheduledFuture<?>> tasks = groupTasks.remove(name);
        if (tasks != null) {
            tasks.forEach(f -> f.cancel(false));
        }
        Map<String, TargetGroup> next = new LinkedHashMap<>(groups);
        next.remove(name);
        groups = Collections.unmodifiableMap(next);
        return g;
    }

    // ---- end of runtime changes ----

    /** Whether any request or tunnel is still open; used by shutdown to wait. */
    public int openConnections() {
        return connections.size();
    }

    @Override
    public void close() {
        stop(settings.shutdownGrace());
    }

    private static void quietly(Runnable step, String what) {
        try {
            step.run();
        } catch (RuntimeException e) {
            log.warn("{} failed: {}", what, e.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
