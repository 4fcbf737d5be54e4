package fulcrum.proxy;

import fulcrum.balance.TargetGroup;
import fulcrum.config.ListenerSettings;
import fulcrum.http.ForwardingHeaders;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpRequest;

import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;

import static java.util.Objects.requireNonNull;

/**
 * What every connection of one listener shares: its settings, where its requests go, and the
 * backend pools. Routing is read through a volatile field so a reload can replace it whole.
 */
public final class ListenerContext {
    private final ListenerSettings settings;
    private volatile ForwardingHeaders forwardingHeaders;
    private final BackendPools pools;
    private final boolean tls;
    private volatile Router router;
    private volatile boolean stopping;
    private volatile ExchangeObserver observer = ExchangeObserver.NONE;
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
    private final ConcurrentHashMap<EventLoop, IdleSweep> idleSweeps = new ConcurrentHashMap<>();

    /** Decides where a request goes: a target group, or an answer of the balancer's own. */
    public interface Router {
        /** The decision for {@code request}, or null when no group can take it (answered 503). */
        RouteDecision route(HttpRequest request, InetSocketAddress client);

        /** Every request to {@code group}. */
        static Router to(TargetGroup group) {
            RouteDecision d = RouteDecision.forward(group);
            return (request, client) -> d;
        }
    }

    public ListenerContext(ListenerSettings settings, Router router, BackendPools pools, boolean tls) {
        this.settings = requireNonNull(settings, "settings");
        this.router = requireNonNull(router, "router");
        this.pools = requireNonNull(pools, "pools");
        this.tls = tls;
        this.forwardingHeaders = new ForwardingHeaders(settings.forwardedHeaders(), tls, settings.bind().port());
    }

    public ListenerSettings settings() {
        return settings;
    }

    /** The port the listener was actually bound to (it may have asked for port 0). */
    public void boundPort(int port) {
        this.forwardingHeaders = new ForwardingHeaders(settings.forwardedHeaders(), tls, port);
    }

    ForwardingHeaders forwardingHeaders() {
        return forwardingHeaders;
    }

    BackendPools pools() {
        return pools;
    }

    boolean tls() {
        return tls;
    }

    Router router() {
        return router;
    }

    public void observer(ExchangeObserver observer) {
        this.observer = requireNonNull(observer, "observer");
    }

    ExchangeObserver observer() {
        return observer;
    }

    /** Set at shutdown: connections close after their current exchange, new ones are refused. */
    public void stopping(boolean stopping) {
        this.stopping = stopping;
    }

    public boolean stopping() {
        return stopping;
    }

    void connectionOpened() {
        open.incrementAndGet();
    }

    void connectionClosed() {
        open.decrementAndGet();
    }

    /** The idle timeout of this listener's connections on {@code loop}. */
    IdleSweep idleSweep(EventLoop loop) {
        return idleSweeps.computeIfAbsent(loop, l -> new IdleSweep(l, settings.idleTimeout()));
    }

    public int openConnections() {
        return open.get();
    }

    public void router(Router next) {
        this.router = requireNonNull(next, "router");
    }
}
