package fulcrum.cluster;

import fulcrum.balance.SessionStore;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.async.RedisAsyncCommands;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Engine.IO sessions in Redis: {@code <prefix>eio:<group>:<sid>} holds {@code "<target> <idleMs>"}
 * and expires after the session's idle time, which every use refreshes (at most every quarter of
 * it, see EngineIoSessions). Each write is also sent on the cluster channel, so every instance
 * knows every live session before a request of it arrives there, and still knows it while Redis
 * is down: that costs each instance memory for every session (about 150 bytes) and a message per
 * session per quarter of its idle time (for 100,000 sessions idle-timing out at 50 s, 8,000 small
 * messages a second), and it is what lets instances keep routing every session through an
 * outage. A request whose sid is still unknown (the message late or lost, an instance just
 * started) asks Redis. While Redis is down nothing is asked (the request goes on at once) and
 * writes fail fast.
 */
final class RedisSessions implements SessionStore {
    private final RedisLink link;
    private final String prefix;
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    /** Lookups not made (Redis down) or not answered. */
    final LongAdder unanswered = new LongAdder();
    /** Lookups a request stopped waiting for. */
    final LongAdder timedOut = new LongAdder();
    private static final long RETRY_MS = 20;
    private static final int BATCH = 500;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RedisSessions.class);
    /** How a session message on the cluster channel starts. */
    static final String SESSION = "session\n";
    private volatile Listener listener = (g, sid, s) -> { };

    RedisSessions(RedisLink link, String prefix) {
        this.link = link;
        this.prefix = prefix + "eio:";
    }

    private String key(String group, String sid) {
        return prefix + group + ":" + sid;
    }

    @Override
    public boolean shared() {
        return true;
    }

    @Override
    public Duration lookupTimeout() {
        return link.settings().sessionLookupTimeout();
    }

    @Override
    public void put(String group, String sid, String targetId, long idleMs) {
        RedisAsyncCommands<String, String> r = link.up() ? link.commands() : null;
        if (r != null) {
            String value = targetId + " " + idleMs;
            link.track(r.set(key(group, sid), value, SetArgs.Builder.px(idleMs)));
            link.publish(SESSION + group + "\n" + sid + "\n" + value);
        }
    }

    /** Where sessions other instances learnt or used go: {@code (group, sid, session)}. */
    interface Listener {
        void heard(String group, String sid, Shared session);
    }

    void onShared(Listener l) {
        this.listener = l;
    }

    /** A session message from the cluster channel ("session\ngroup\nsid\ntarget idleMs"). */
    void received(String message) {
        String[] p = message.split("\n", 4);
        if (p.length != 4) {
            return;
        }
        Shared s = parse(p[3]);
        if (s != null) {
            listener.heard(p[1], p[2], s);
        }
    }

    /** As {@link #put}, but keeps what Redis has: for writing back what a restarted Redis lost. */
    void putIfAbsent(String group, String sid, String targetId, long idleMs) {
        RedisAsyncCommands<String, String> r = link.commands();
        if (r != null) {
            link.track(r.set(key(group, sid), targetId + " " + idleMs, SetArgs.Builder.px(idleMs).nx()));
        }
    }

    /**
     * Reads every session Redis has into this instance (through the listener), so that one that
     * just started, or missed messages during an outage, knows them all before Redis may fail
     * again. SCAN in batches of {@value #BATCH}, then MGET: Redis is never blocked by it.
     */
    void preload(Runnable done) {
        RedisAsyncCommands<String, String> r = link.commands();
        if (r != null) {
            scan(r, io.lettuce.core.ScanCursor.INITIAL, new int[1], done);
        }
    }

    private void scan(RedisAsyncCommands<String, String> r, io.lettuce.core.ScanCursor cursor, int[] read,
                      Runnable done) {
        link.track(r.scan(cursor, io.lettuce.core.ScanArgs.Builder.matches(prefix + "*").limit(BATCH)))
                .whenComplete((page, e) -> {
                    if (e != null) {
                        return; // the next resync tries again
                    }
                    List<String> keys = page.getKeys();
                    Runnable next = () -> {
                        if (page.isFinished()) {
                            if (read[0] > 0) {
                                log.info("cluster: read {} Engine.IO sessions from redis", read[0]);
                            }
                            done.run();
                        } else {
                            scan(r, page, read, done);
                        }
                    };
                    if (keys.isEmpty()) {
                        next.run();
                        return;
                    }
                    link.track(r.mget(keys.toArray(String[]::new))).whenComplete((values, me) -> {
                        if (me != null) {
                            return;
                        }
                        for (io.lettuce.core.KeyValue<String, String> kv : values) {
                            Shared sh = kv.hasValue() ? parse(kv.getValue()) : null;
                            int colon = kv.getKey().lastIndexOf(':');
                            if (sh != null && colon > prefix.length()) {
                                listener.heard(kv.getKey().substring(prefix.length(), colon),
                                               kv.getKey().substring(colon + 1), sh);
                                read[0]++;
                            }
                        }
                        next.run();
                    });
                });
    }

    @Override
    public void remove(String group, String sid) {
        RedisAsyncCommands<String, String> r = link.up() ? link.commands() : null;
        if (r != null) {
            link.track(r.del(key(group, sid)));
        }
    }

    @Override
    public CompletionStage<Shared> lookup(String group, String sid) {
        RedisAsyncCommands<String, String> r = link.up() ? link.commands() : null;
        if (r == null) {
            unanswered.increment();
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Shared> answer = new CompletableFuture<>();
        get(r, key(group, sid), answer, true);
        return answer;
    }

    /**
     * One GET, and on a miss one more a moment later: the instance that learnt the session writes
     * it as its handshake response leaves, and a client quick to bring its next request elsewhere
     * can be looked up before that write lands (a loaded machine delays the writer's thread). The
     * request's own timer bounds both.
     */
    private void get(RedisAsyncCommands<String, String> r, String key, CompletableFuture<Shared> answer, boolean again) {
        link.track(r.get(key)).whenComplete((v, e) -> {
            if (e != null) {
                unanswered.increment();
                answer.complete(null);
                return;
            }
            Shared s = parse(v);
            if (s == null && again && !answer.isDone()) {
                link.executor().schedule(() -> get(r, key, answer, false), RETRY_MS, TimeUnit.MILLISECONDS);
                return;
            }
            (s == null ? misses : hits).increment();
            answer.complete(s);
        });
    }

    @Override
    public void lookupTimedOut() {
        timedOut.increment();
    }

    static Shared parse(String v) {
        if (v == null) {
            return null;
        }
        int sp = v.lastIndexOf(' ');
        if (sp <= 0) {
            return null;
        }
        try {
            long idle = Long.parseLong(v.substring(sp + 1));
            return idle > 0 ? new Shared(v.substring(0, sp), idle) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
