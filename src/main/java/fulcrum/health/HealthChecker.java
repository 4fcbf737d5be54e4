package fulcrum.health;

import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * Active and passive health checking of one target group. Each target is probed on an event
 * loop of its own (spread over the balancer's loops) at the group's interval; the results drive
 * {@link HealthStateMachine}, whose transitions go through {@link TargetGroup#transition}, which
 * publishes the new snapshot, logs and tells the listeners. Failed connects seen by the proxy
 * arrive through {@link TargetGroup#passiveHealth} and count as failed probes.
 *
 * <p>Membership is reconciled against the group's snapshot every {@code min(interval, 1s)}: a
 * target registered at runtime is probed at once, a removed one is no longer probed. The
 * request path is untouched: it only reads the snapshot.
 */
public final class HealthChecker {
    private static final Logger log = LoggerFactory.getLogger(HealthChecker.class);
    private static final long MAX_RECONCILE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final TargetGroup group;
    private final EventLoopGroup loops;
    private final Class<? extends SocketChannel> channelClass;
    private final ProbeObserver observer;
    /** Written by the reconciler only; read by passive failures from any loop. Keys by identity. */
    private final Map<Target, TargetCheck> checks = new ConcurrentHashMap<>();
    private final EventLoop home;
    private List<Target> seen = List.of();
    private volatile ScheduledFuture<?> reconciler;
    private volatile boolean stopped;

    /** Told of every check result, for metrics. Called on the target's event loop: keep it cheap. */
    public interface ProbeObserver {
        ProbeObserver NONE = (group, target, healthy, passive) -> { };

        /** {@code passive}: a failure seen by live traffic rather than a probe. */
        void checked(TargetGroup group, Target target, boolean healthy, boolean passive);
    }

    private HealthChecker(TargetGroup group, EventLoopGroup loops, Class<? extends SocketChannel> channelClass,
                          ProbeObserver observer) {
        this.group = requireNonNull(group, "group");
        this.loops = requireNonNull(loops, "loops");
        this.channelClass = requireNonNull(channelClass, "channelClass");
        this.observer = requireNonNull(observer, "observer");
        this.home = loops.next();
    }

    /** Starts checking every target of {@code group} now, with connections on {@code loops}. */
    public static HealthChecker start(TargetGroup group, EventLoopGroup loops,
                                      Class<? extends SocketChannel> channelClass) {
        return start(group, loops, channelClass, ProbeObserver.NONE);
    }

    /** As {@link #start(TargetGroup, EventLoopGroup, Class)}, telling {@code observer} of every result. */
    public static HealthChecker start(TargetGroup group, EventLoopGroup loops,
                                      Class<? extends SocketChannel> channelClass, ProbeObserver observer) {
        HealthChecker c = new HealthChecker(group, loops, channelClass, observer);
        c.home.execute(c::reconcile);
        long every = Math.min(group.settings().healthCheck().interval().toNanos(), MAX_RECONCILE_NANOS);
        c.reconciler = c.home.scheduleWithFixedDelay(c::reconcile, every, every, TimeUnit.NANOSECONDS);
        group.passiveHealth(c::passiveFailure);
        log.info("target group {}: {} health checks every {}", group.name(),
                 group.settings().healthCheck().kind(),
                 ProbeResult.format(group.settings().healthCheck().interval()));
        return c;
    }

    /** Stops probing; in-flight probes end on their own and are ignored. */
    public void stop() {
        stopped = true;
        group.passiveHealth((target, reason) -> { });
        ScheduledFuture<?> r = reconciler;
        if (r != null) {
            r.cancel(false);
        }
        checks.values().forEach(TargetCheck::stop);
        checks.clear();
    }

    private void passiveFailure(Target target, String reason) {
        TargetCheck c = checks.get(target);
        if (c != null) {
            c.passiveFailure(reason);
        }
    }

    /** Runs on {@code home}: starts checks of new targets, stops those of removed ones. */
    private void reconcile() {
        if (stopped) {
            return;
        }
        List<Target> all = group.snapshot().all();
        if (all == seen) {
            return;
        }
        seen = all;
        Set<Target> current = Collections.newSetFromMap(new IdentityHashMap<>());
        current.addAll(all);
        checks.entrySet().removeIf(e -> {
            if (current.contains(e.getKey())) {
                return false;
            }
            e.getValue().stop();
            return true;
        });
        for (Target t : all) {
            if (!checks.containsKey(t)) {
                TargetCheck c = new TargetCheck(group, t, loops.next(), channelClass, observer);
                checks.put(t, c);
                if (stopped) {
                    c.stop(); // stop() ran meanwhile and may not have seen it
                }
                c.start();
            }
        }
    }
}
