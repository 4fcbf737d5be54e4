package fulcrum.cluster;

import fulcrum.balance.SessionStore;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.async.RedisAsyncCommands;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Engine.IO sessions in Redis: {@code <prefix>eio:<group>:<sid>} holds {@code "<target> <idleMs>"}
 * and expires after the session's idle time, which every use refreshes (at most every quarter of
 * it, see EngineIoSessions). New sessions are not broadcast: an instance asks for a sid only when
 * a request brings one it does not know, which costs one GET per session per other instance it
 * reaches, where a broadcast would cost every instance memory and a message for every session.
 * While Redis is down nothing is asked (the request goes on at once) and writes fail fast.
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
            link.track(r.set(key(group, sid), targetId + " " + idleMs, SetArgs.Builder.px(idleMs)));
        }
    }

    /** As {@link #put}, but keeps what Redis has: for writing back what a restarted Redis lost. */
    void putIfAbsent(String group, String sid, String targetId, long idleMs) {
        RedisAsyncCommands<String, String> r = link.commands();
        if (r != null) {
            link.track(r.set(key(group, sid), targetId + " " + idleMs, SetArgs.Builder.px(idleMs).nx()));
        }
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
