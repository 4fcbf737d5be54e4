package fulcrum.cluster;

import fulcrum.config.ClusterSettings;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;
import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.SocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * The Redis connections of one instance (one for commands, one subscribed to the cluster's
 * channel) and whether Redis answers. Lettuce runs on an event-loop group of its own (two I/O
 * threads, one per connection, and two for completions and timers, Lettuce's minimum): Redis latency or a large reply then never holds a
 * proxy loop, and stopping the cluster cannot stop ours. Everything here is asynchronous and
 * bounded by the command timeout; a disconnected Redis refuses commands at once rather than
 * queueing them.
 *
 * <p>Up and down are said once per change, in the log, the metrics and /healthz. Lettuce
 * reconnects a connection it had, with exponential backoff between retry-min and retry-max; the
 * first connection is retried here with the same backoff.
 */
final class RedisLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisLink.class);

    private final ClusterSettings settings;
    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private final EventExecutor exec;
    private final String channel;
    private volatile StatefulRedisConnection<String, String> connection;
    private volatile StatefulRedisPubSubConnection<String, String> subscription;
    private volatile boolean up;
    private volatile boolean closed;
    private volatile Instant since = Instant.now();
    private volatile String lastError = "not connected yet";
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong outages = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger failuresInARow = new java.util.concurrent.atomic.AtomicInteger();
    private static final int FAILURES_FOR_DOWN = 3;
    private int connectAttempts;
    private Runnable onUp = () -> { };
    private BiConsumer<String, String> onMessage = (c, m) -> { };

    static {
        // Our listeners pick io_uring or epoll themselves; a Redis connection or two gains nothing
        // from io_uring, and Lettuce warns on every connect when it has both to choose from.
        if (System.getProperty("io.lettuce.core.iouring") == null) {
            System.setProperty("io.lettuce.core.iouring", "false");
        }
    }

    RedisLink(ClusterSettings settings) {
        this.settings = settings;
        // Two of each: Lettuce's floor (it raises anything lower), started lazily.
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .reconnectDelay(Delay.exponential(settings.retryMin(), settings.retryMax(), 2, TimeUnit.MILLISECONDS))
                .build();
        this.uri = uri(settings);
        this.client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder()
                                  .autoReconnect(true)
                                  .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                                  .timeoutOptions(TimeoutOptions.enabled(settings.commandTimeout()))
                                  .socketOptions(SocketOptions.builder().connectTimeout(settings.connectTimeout())
                                                         .keepAlive(true).build())
                                  .build());
        this.exec = resources.eventExecutorGroup().next();
        this.channel = settings.keyPrefix() + "events";
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> c, SocketAddress address) {
                if (c == connection) {
                    exec.execute(RedisLink.this::probe);
                }
            }

            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> c) {
                if (c == connection && !closed) {
                    down("connection lost");
                }
            }
        });
    }

    private static RedisURI uri(ClusterSettings s) {
        RedisURI u = RedisURI.create(s.redis());
        if (s.password() != null) {
            u.setAuthentication(s.password().toCharArray());
        }
        if (s.tls()) {
            u.setSsl(true);
        }
        u.setVerifyPeer(s.verifyPeer());
        u.setTimeout(s.commandTimeout());
        u.setClientName("fulcrum");
        return u;
    }

    /** Starts connecting; {@code onUp} runs (on this link's thread) whenever Redis answers again after failing. */
    void start(Runnable onUp, BiConsumer<String, String> onMessage) {
        this.onUp = onUp;
        this.onMessage = onMessage;
        exec.execute(this::connect);
    }

    private void connect() {
        if (closed) {
            return;
        }
        client.connectAsync(StringCodec.UTF8, uri).whenComplete((c, e) -> {
            if (e != null) {
                down(message(e));
                retryConnect();
                return;
            }
            if (closed) {
                c.closeAsync();
                return;
            }
            connection = c;
            client.connectPubSubAsync(StringCodec.UTF8, uri).whenComplete((p, pe) -> {
                if (pe != null) {
                    // Commands work; the subscription is tried again with the backoff.
                    down("subscribing: " + message(pe));
                    c.closeAsync();
                    connection = null;
                    retryConnect();
                    return;
                }
                p.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String ch, String message) {
                        onMessage.accept(ch, message);
                    }
                });
                subscription = p;
                p.async().subscribe(channel).whenComplete((v, se) -> {
                    if (se == null) {
                        connectAttempts = 0;
                        probe();
                    } else {
                        failed(se);
                    }
                });
            });
        });
    }

    private void retryConnect() {
        if (closed) {
            return;
        }
        long ms = Math.min(settings.retryMax().toMillis(), settings.retryMin().toMillis() << Math.min(connectAttempts++, 20));
        exec.schedule(this::connect, ms, TimeUnit.MILLISECONDS);
    }

    /** A PING: up when answered. */
    void probe() {
        RedisAsyncCommands<String, String> r = commands();
        if (r != null) {
            track(r.ping());
        }
    }

    /** The commands, or null while there is no connection (callers then do nothing). */
    RedisAsyncCommands<String, String> commands() {
        StatefulRedisConnection<String, String> c = connection;
        return c == null || closed ? null : c.async();
    }

    /** Marks Redis up or down by the result of {@code command}; returns it. */
    <T> CompletionStage<T> track(CompletionStage<T> command) {
        command.whenComplete((v, e) -> {
            if (e == null) {
                ok();
            } else {
                failed(e);
            }
        });
        return command;
    }

    void publish(String message) {
        RedisAsyncCommands<String, String> r = commands();
        if (r != null) {
            track(r.publish(channel, message));
        }
    }

    private void ok() {
        failuresInARow.set(0);
        if (up || closed) {
            return;
        }
        synchronized (this) {
            if (up) {
                return;
            }
            up = true;
            since = Instant.now();
        }
        log.info("cluster: redis {} answers; sharing sessions and targets (instance {})", redactedUri(),
                 settings.instanceId());
        exec.execute(onUp);
    }

    /**
     * A command failed. A lost connection says Redis is down at once; a connected Redis is
     * called down after {@value #FAILURES_FOR_DOWN} failures in a row with no success between
     * (a slow Redis), so that one command timing out on a loaded machine is not an outage.
     */
    void failed(Throwable e) {
        failures.incrementAndGet();
        lastError = message(e);
        StatefulRedisConnection<String, String> c = connection;
        if (c == null || !c.isOpen() || failuresInARow.incrementAndGet() >= FAILURES_FOR_DOWN) {
            down(lastError);
        }
    }

    private void down(String reason) {
        lastError = reason;
        if (closed) {
            return;
        }
        synchronized (this) {
            if (!up && outages.get() > 0) {
                return;
            }
            up = false;
            since = Instant.now();
            outages.incrementAndGet();
        }
        log.warn("cluster: redis {} unavailable ({}); routing with what this instance knows, retrying",
                 redactedUri(), reason);
    }

    private static String message(Throwable e) {
        Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        String m = c.getMessage();
        return c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    String redactedUri() {
        return uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase() + (uri.isSsl() ? " (TLS)" : "");
    }

    boolean up() {
        return up;
    }

    Instant since() {
        return since;
    }

    String lastError() {
        return lastError;
    }

    long failures() {
        return failures.get();
    }

    /** Times Redis went from answering (or never having answered) to failing. */
    long outages() {
        return outages.get();
    }

    /** The executor of this link's completions: the cluster's periodic work runs there too. */
    EventExecutor executor() {
        return exec;
    }

    ClusterSettings settings() {
        return settings;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        StatefulRedisPubSubConnection<String, String> p = subscription;
        StatefulRedisConnection<String, String> c = connection;
        if (p != null) {
            p.close();
        }
        if (c != null) {
            c.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
