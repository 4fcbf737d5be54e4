package fulcrum.proxy;

import fulcrum.balance.Target;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ChannelFactory;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;

/** The backend pools of every event loop; each is reached from its own loop, or through it. */
public final class BackendPools {
    private final Bootstrap prototype;
    private final ChannelFactory<? extends Channel> inet4;
    private final ConcurrentHashMap<EventLoop, BackendPool> pools = new ConcurrentHashMap<>();

    /** {@code prototype}: the transport's channel class and options, copied for every connection. */
    public BackendPools(Bootstrap prototype) {
        this(prototype, prototype.config().channelFactory());
    }

    /** {@code inet4} makes the sockets of connections to IPv4 targets (see {@code Transport.inet4Channels}). */
    public BackendPools(Bootstrap prototype, ChannelFactory<? extends Channel> inet4) {
        this.prototype = prototype;
        this.inet4 = inet4;
    }

    BackendPool forLoop(EventLoop loop) {
        return pools.computeIfAbsent(loop, l -> new BackendPool(l, prototype, inet4));
    }

    /** Closes every connection to {@code target} on every loop: tunnels, in-flight requests, idle ones. */
    public void closeAll(Target target) {
        each(p -> p.closeAll(target));
    }

    /** Closes idle pooled connections to {@code target} on every loop. */
    public void closeIdle(Target target) {
        each(p -> p.closeIdle(target));
    }

    /**
     * Closes every backend connection on every loop and waits, at most {@code millis}, until they
     * have closed. Before the loops stop: a read still in flight when a loop ends is never
     * completed, and its buffer never given back.
     */
    public void closeEverything(long millis) {
        CompletableFuture<List<ChannelFuture>> closing = gather(BackendPool::closeEverything);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        try {
            for (ChannelFuture closed : closing.get(millis, TimeUnit.MILLISECONDS)) {
                closed.awaitUninterruptibly(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        } catch (ExecutionException | TimeoutException e) {
            // past the deadline: the loops stop all the same
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The tunnels open to {@code target} on every loop (backend channels), gathered from each loop. */
    public CompletableFuture<List<Channel>> tunnels(Target target) {
        return gather(p -> p.tunnels(target));
    }

    /**
     * What {@code part} gives on each pool, run on that pool's loop, gathered into one list. A
     * loop that no longer runs tasks is left out: its connections end with the process.
     */
    private <T> CompletableFuture<List<T>> gather(Function<BackendPool, List<T>> part) {
        List<CompletableFuture<List<T>>> parts = new ArrayList<>();
        for (BackendPool p : Set.copyOf(pools.values())) {
            CompletableFuture<List<T>> f = new CompletableFuture<>();
            try {
                p.loop().execute(() -> {
                    try {
                        f.complete(part.apply(p));
                    } catch (RuntimeException e) {
                        f.completeExceptionally(e);
                    }
                });
            } catch (RejectedExecutionException dead) {
                continue;
            }
            parts.add(f);
        }
        return CompletableFuture.allOf(parts.toArray(new CompletableFuture[0])).thenApply(v -> {
            List<T> out = new ArrayList<>();
            parts.forEach(f -> out.addAll(f.join()));
            return out;
        });
    }

    private void each(Consumer<BackendPool> action) {
        for (BackendPool p : pools.values()) {
            if (p.loop().inEventLoop()) {
                action.accept(p);
            } else {
                p.loop().execute(() -> action.accept(p));
            }
        }
    }
}
