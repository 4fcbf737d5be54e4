package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.proxy.BackendPools;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Deregistration: a target goes draining (no new requests or sessions), keeps its in-flight
 * requests and tunnels until its group's deregistration-delay ends, then has its remaining
 * tunnels closed at drain-close-rate per second and is removed. A target with nothing left in
 * flight goes sooner, but not before {@link #MIN_DRAIN_NANOS}: a request that chose it just
 * before the new snapshot was published may not have counted itself on it yet.
 *
 * <p>Timing runs on the operations executor; closing a backend channel from there is safe (Netty
 * runs the close on the channel's own loop) and closes the tunnel's client side with it.
 */
final class Drainer {
    private static final Logger log = LoggerFactory.getLogger(Drainer.class);
    static final long MIN_DRAIN_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long CHECK_MILLIS = 100;
    /** Paced closes are batched so that high rates do not need a timer per tunnel. */
    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final BackendPools pools;
    private final ScheduledExecutorService ops;

    Drainer(BackendPools pools, ScheduledExecutorService ops) {
        this.pools = pools;
        this.ops = ops;
    }

    /** Starts draining {@code target}; false when it is not in the group or already draining. */
    boolean drain(TargetGroup group, Target target, String reason) {
        if (target.state() == HealthState.DRAINING || !group.snapshot().all().contains(target)) {
            return false;
        }
        group.drain(target, reason);
        long started = System.nanoTime();
        long deadline = started + group.settings().deregistrationDelay().toNanos();
        Runnable[] check = new Runnable[1];
        check[0] = () -> {
            if (!group.snapshot().all().contains(target)) {
                return; // removed by someone else
            }
            long now = System.nanoTime();
            boolean idle = target.outstandingRequests() == 0 && target.tunnels() == 0;
            if (idle && now - started >= Math.min(MIN_DRAIN_NANOS, deadline - started)) {
                pools.closeIdle(target);
                remove(group, target, "nothing left in flight");
            } else if (now >= deadline) {
                closeTunnels(group, target);
            } else {
                ops.schedule(check[0], CHECK_MILLIS, TimeUnit.MILLISECONDS);
            }
        };
        ops.schedule(check[0], Math.min(CHECK_MILLIS, TimeUnit.NANOSECONDS.toMillis(deadline - started)),
                     TimeUnit.MILLISECONDS);
        return true;
    }

    /** The delay is over: tunnels closed at the group's rate, then everything else, then removal. */
    private void closeTunnels(TargetGroup group, Target target) {
        pools.tunnels(target).whenComplete((tunnels, error) -> ops.execute(() -> {
            if (error != null || tunnels.isEmpty()) {
                finish(group, target, 0);
                return;
            }
            int rate = group.settings().drainCloseRate();
            log.info("target group {}: target {} deregistration delay over, closing {} tunnels at {}/s",
                     group.name(), target, tunnels.size(), rate);
            pace(group, target, tunnels, rate);
        }));
    }

    private void pace(TargetGroup group, Target target, List<Channel> tunnels, int rate) {
        long period = Math.max(TimeUnit.SECONDS.toNanos(1) / rate, MIN_TICK_NANOS);
        int batch = (int) Math.max(1, Math.round((double) rate * period / TimeUnit.SECONDS.toNanos(1)));
        int[] next = {0};
        ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
        Runnable tick = () -> {
            for (int n = 0; n < batch && next[0] < tunnels.size(); n++) {
                tunnels.get(next[0]++).close();
            }
            if (next[0] >= tunnels.size()) {
                timer[0].cancel(false);
                finish(group, target, tunnels.size());
            }
        };
        // Runs on the single operations thread, so the first tick cannot run before timer[0] is set.
        timer[0] = ops.scheduleAtFixedRate(tick, 0, period, TimeUnit.NANOSECONDS);
    }

    private void finish(TargetGroup group, Target target, int closed) {
        // Requests still in flight after the delay, tunnels opened meanwhile, idle pooled connections.
        pools.closeAll(target);
        remove(group, target, closed == 0 ? "deregistration delay over" : closed + " tunnels closed");
    }

    private static void remove(TargetGroup group, Target target, String why) {
        if (group.remove(target)) {
            log.info("target group {}: target {} drained ({})", group.name(), target, why);
        }
    }
}
