package fulcrum.proxy;

import fulcrum.balance.Target;
import io.netty.bootstrap.Bootstrap;
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

/** The backend pools of every event loop; each is reached from its own loop, or through it. */
public final class BackendPools {
    private final Bootstrap prototype;
    private final ConcurrentHashMap<EventLoop, BackendPool> pools = new ConcurrentHashMap<>();

    /** {@code prototype}: the transport's channel class and options, copied for every connection. */
    public BackendPools(Bootstrap prototype) {
        this.prototype = prototype;
    }

    BackendPool forLoop(EventLoop loop) {
        return pools.computeIfAbsent(loop, l -> new BackendPool(l, prototype));
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
        List<CompletableFuture<List<ChannelFuture>>> parts = new ArrayList<>();
        for (BackendPool p : Set.copyOf(pools.values())) {
            CompletableFuture<List<ChannelFuture>> f = new CompletableFuture<>();
            try {
                p.loop().execute(() -> {
                    try {
                        f.complete(p.closeEverything());
                    } catch (RuntimeException e) {
                        f.completeExceptionally(e);
                    }
                });
            } catch (RejectedExecutionException dead) {
                continue; // a dead loop's connections close with the process
            }
            parts.add(f);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (CompletableFuture<List<ChannelFuture>> part : parts) {
            try {
                for (ChannelFuture closed : part.get(Math.max(1, deadline - System.nanoTime()),
                                                                      TimeUnit.NANOSECONDS)) {
                    closed.awaitUninterruptibly(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                }
            } catch (ExecutionException | TimeoutException e) {
                return; // past the deadline: the loops stop all the same
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The tunnels open to {@code target} on every loop (backend channels), gathered from each loop. */
    public CompletableFuture<List<Channel>> tunnels(Target target) {
        List<CompletableFuture<List<Channel>>> parts = new ArrayList<>();
        for (BackendPool p : Set.copyOf(pools.values())) {
            CompletableFuture<List<Channel>> f = new CompletableFuture<>();
            p.loop().execute(() -> f.complete(p.tunnels(target)));
            parts.add(f);
        }
        return CompletableFuture.allOf(parts.toArray(new CompletableFuture[0])).thenApply(v -> {
            List<Channel> out = new ArrayList<>();
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
