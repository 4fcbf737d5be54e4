package fulcrum.health;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.HealthCheckSettings;
import fulcrum.config.HostPort;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The checks of one target. Everything here runs on the target's own event loop: probes, their
 * results, passive failures (handed over with {@code execute}), so the counters need no lock.
 * The next probe is scheduled when the previous one has ended (fixed delay), so a slow target
 * never has two probes in flight.
 */
final class TargetCheck {
    private static final Logger log = LoggerFactory.getLogger(TargetCheck.class);

    private final TargetGroup group;
    private final Target target;
    private final EventLoop loop;
    private final Class<? extends SocketChannel> channelClass;
    private final HealthChecker.ProbeObserver observer;
    private final HealthStateMachine machine = new HealthStateMachine();
    private volatile boolean stopped;
    private volatile Future<?> next;

    TargetCheck(TargetGroup group, Target target, EventLoop loop, Class<? extends SocketChannel> channelClass,
                HealthChecker.ProbeObserver observer) {
        this.group = group;
        this.observer = observer;
        this.target = target;
        this.loop = loop;
        this.channelClass = channelClass;
    }

    Target target() {
        return target;
    }

    /** Probes now, then every interval. */
    void start() {
        execute(this::probe);
    }

    void stop() {
        stopped = true;
        Future<?> f = next;
        if (f != null) {
            f.cancel(false);
        }
    }

    /** Live traffic could not reach the target: counts as a failed probe. Any thread. */
    void passiveFailure(String reason) {
        execute(() -> result(ProbeResult.failed("live traffic: " + reason), true));
    }

    private void probe() {
        if (stopped || group.snapshot().byId(target.id()) != target) {
            return; // removed from the group: the reconcile task stops this check too
        }
        if (target.state() == HealthState.DRAINING) {
            scheduleNext(); // a draining target leaves only by removal; nothing to learn
            return;
        }
        HealthCheckSettings hc = group.settings().healthCheck();
        int port = hc.port() == 0 ? target.address().port() : hc.port();
        InetSocketAddress traffic = target.socketAddress();
        InetSocketAddress address = port == traffic.getPort() ? traffic
                                    : traffic.isUnresolved() ? InetSocketAddress.createUnresolved(traffic.getHostString(), port)
                                    : new InetSocketAddress(traffic.getAddress(), port);
        String host = new HostPort(target.address().host(), port).toString();
        Future<ProbeResult> f;
        try {
            f = Probe.run(hc, address, host, loop, channelClass);
        } catch (RejectedExecutionException e) {
            return; // the event loops are shutting down
        }
        f.addListener(done -> {
            result(f.getNow(), false);
            scheduleNext();
        });
    }

    private void result(ProbeResult r, boolean passive) {
        if (stopped) {
            return;
        }
        observer.checked(group, target, r.healthy(), passive);
        HealthCheckSettings hc = group.settings().healthCheck();
        HealthState current = target.state();
        HealthState to = r.healthy() ? machine.succeeded(current, hc.healthyThreshold())
                                     : machine.failed(current, hc.unhealthyThreshold());
        log.debug("target group {}: target {} check: {} ({} ok / {} failed in a row)", group.name(), target,
                  r.reason(), machine.consecutiveSuccesses(), machine.consecutiveFailures());
        group.checked(target, r.healthy(), r.reason());
        if (to != null) {
            group.transition(target, to, r.reason());
        }
    }

    private void scheduleNext() {
        if (stopped) {
            return;
        }
        long interval = group.settings().healthCheck().interval().toNanos();
        // +-10% so that targets started together drift apart instead of being probed in bursts.
        long delay = interval - interval / 10 + ThreadLocalRandom.current().nextLong(interval / 5 + 1);
        try {
            next = loop.schedule(this::probe, delay, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            // the event loops are shutting down
        }
    }

    private void execute(Runnable r) {
        try {
            loop.execute(r);
        } catch (RejectedExecutionException e) {
            // the event loops are shutting down
        }
    }
}
