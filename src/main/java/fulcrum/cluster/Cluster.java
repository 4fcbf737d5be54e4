package fulcrum.cluster;

import fulcrum.balance.TargetGroup;
import fulcrum.balance.SessionStore;
import fulcrum.config.ClusterSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static java.util.Objects.requireNonNull;

/**
 * This instance's part in a cluster of instances that behave as one balancer through Redis:
 * shared Engine.IO sessions ({@link #sessions()}), the admin API's target changes as an overlay
 * over the file ({@link #record}, applied through the consumer given to {@link #start}), and the
 * instances' health views. Nothing here is ever waited on by traffic beyond the session lookup
 * timeout; Redis failing only stops the sharing until it answers again, then everything this
 * instance knows is written back and read again.
 */
public final class Cluster implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Cluster.class);

    private final String instanceId;
    private final RedisLink link;
    private final RedisSessions sessions;
    private final TargetOverlay overlay;
    private final HealthViews views;
    /** Open once the overlay has been applied, and once the sessions have been read, the first time. */
    private final CountDownLatch overlayApplied = new CountDownLatch(1);
    private final CountDownLatch sessionsRead = new CountDownLatch(1);
    private volatile Supplier<Map<String, String>> healthView = Map::of;
    private volatile Supplier<Map<String, TargetGroup>> groups = Map::of;
    /** Set once the balancer runs: before, Redis answering has nothing to apply to. */
    private volatile boolean started;

    private Cluster(ClusterSettings settings) {
        this.instanceId = settings.instanceId() != null ? settings.instanceId() : defaultId();
        ClusterSettings s = settings.instanceId() != null ? settings
                : new ClusterSettings(settings.redis(), settings.keyPrefix(), instanceId, settings.password(),
                                      settings.tls(), settings.verifyPeer(), settings.connectTimeout(),
                                      settings.commandTimeout(), settings.sessionLookupTimeout(),
                                      settings.syncInterval(), settings.healthViewInterval(), settings.retryMin(),
                                      settings.retryMax());
        this.link = new RedisLink(s);
        this.sessions = new RedisSessions(link, s.keyPrefix());
        this.overlay = new TargetOverlay(link, s.keyPrefix());
        this.views = new HealthViews(link, s.keyPrefix(), instanceId);
    }

    /** The cluster of {@code settings}; null when none is configured (no Redis client is made). */
    public static Cluster of(ClusterSettings settings) {
        return settings.enabled() ? new Cluster(settings) : null;
    }

    private static String defaultId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "fulcrum";
        }
        return host + "-" + ProcessHandle.current().pid();
    }

    /** Where the target groups' Engine.IO sessions are shared. */
    public SessionStore sessions() {
        return sessions;
    }

    /** Starts connecting to Redis, so that the connection is made while the balancer starts. */
    public void connect() {
        link.start(this::resync, (channel, message) -> {
            if (!started) {
                return;
            }
            if (message.startsWith(RedisSessions.SESSION)) {
                sessions.received(message);
            } else {
                overlay.received(message);
            }
        });
        log.info("cluster: instance {} sharing through redis {} (key prefix {})", instanceId, link.redactedUri(),
                 link.settings().keyPrefix());
    }

    /**
     * Starts the periodic work, once the balancer runs ({@link #connect} first). {@code apply} gets the whole overlay after each
     * read (on the Redis link's thread: hand it on); {@code healthView} gives this instance's
     * "group/target" to state; {@code groups} the target groups, whose sessions are written back when Redis
     * answers again.
     */
    public void start(Consumer<Collection<OverlayEntry>> apply, Supplier<Map<String, String>> healthView,
                      Supplier<Map<String, TargetGroup>> groups) {
        requireNonNull(apply, "apply");
        this.healthView = requireNonNull(healthView, "healthView");
        this.groups = requireNonNull(groups, "groups");
        sessions.onShared((group, sid, shared) -> {
            TargetGroup g = this.groups.get().get(group);
            if (g != null) {
                g.engineIo().heard(sid, shared, g.snapshot(), System.nanoTime());
            }
        });
        overlay.onChange(entries -> {
            apply.accept(entries);
            overlayApplied.countDown();
        });
        ClusterSettings s = link.settings();
        started = true;
        link.executor().execute(() -> {
            if (link.up()) {
                resync();
            }
        });
        long sync = s.syncInterval().toMillis();
        link.executor().scheduleWithFixedDelay(this::periodicSync, sync, sync, TimeUnit.MILLISECONDS);
        long views = s.healthViewInterval().toMillis();
        link.executor().scheduleWithFixedDelay(this::exchangeViews, views / 2, views, TimeUnit.MILLISECONDS);
    }

    /** Waits (not on an event loop) up to {@code max} for the overlay to be applied and the sessions read once. */
    public boolean awaitFirstSync(Duration max) {
        try {
            long end = System.nanoTime() + max.toNanos();
            return overlayApplied.await(max.toNanos(), TimeUnit.NANOSECONDS)
                   && sessionsRead.await(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void periodicSync() {
        if (link.up()) {
            overlay.sync();
        } else {
            link.probe(); // a connection that timed out: up again once it answers
        }
    }

    private void exchangeViews() {
        try {
            views.exchange(healthView.get());
        } catch (RuntimeException e) {
            log.warn("cluster: publishing the health view failed: {}", e.toString());
        }
    }

    /** Redis answers again (or for the first time): write back what it may have lost, read it all. */
    private void resync() {
        if (!started) {
            return;
        }
        overlay.sync();
        long now = System.nanoTime();
        int[] n = {0};
        groups.get().forEach((group, g) -> g.engineIo().forEachLive(now, (sid, target, left) -> {
            sessions.putIfAbsent(group, sid, target, left);
            n[0]++;
        }));
        if (n[0] > 0) {
            log.info("cluster: wrote back {} Engine.IO sessions Redis may have lost", n[0]);
        }
        sessions.preload(sessionsRead::countDown);
        exchangeViews();
    }

    /** A change made through this instance's admin API, already applied here. */
    public void record(String group, String target, OverlayEntry.Op op, int weight) {
        overlay.record(new OverlayEntry(group, target, op, weight, System.currentTimeMillis(), instanceId));
    }

    /** The overlay as this instance knows it. */
    public Collection<OverlayEntry> overlay() {
        return overlay.entries();
    }

    /** The other instances' health views: instance to ("group/target" to state). */
    public Map<String, Map<String, String>> peerViews() {
        return views.peers();
    }

    public String instanceId() {
        return instanceId;
    }

    public boolean redisUp() {
        return link.up();
    }

    /** Since when Redis has been up, or down. */
    public Instant redisSince() {
        return link.since();
    }

    public String redisLastError() {
        return link.lastError();
    }

    public long redisFailures() {
        return link.failures();
    }

    public long redisOutages() {
        return link.outages();
    }

    public long sessionLookupHits() {
        return sessions.hits.sum();
    }

    public long sessionLookupMisses() {
        return sessions.misses.sum();
    }

    public long sessionLookupsUnanswered() {
        return sessions.unanswered.sum();
    }

    public long sessionLookupsTimedOut() {
        return sessions.timedOut.sum();
    }

    @Override
    public void close() {
        link.close();
    }
}
