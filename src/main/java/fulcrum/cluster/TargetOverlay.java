package fulcrum.cluster;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The admin API's changes to targets, shared by every instance: a Redis hash
 * ({@code <prefix>targets}, field "group/target", value "at op weight by") over the file's targets.
 * A change is applied where it is made at once, kept here, and written to Redis with a script that
 * keeps the later of two changes; every instance is told on the cluster channel and reads the
 * whole hash (also every sync-interval and when Redis answers again), then applies what changed.
 *
 * <p>What this instance knows is kept even while Redis is down or after it restarted empty: each
 * sync first writes back the entries Redis lacks or has older, so a change made during an outage,
 * and the overlay itself, survive. Runs on the Redis link's thread; the result is handed to
 * {@code apply}, which runs it on the operations thread.
 */
final class TargetOverlay {
    private static final Logger log = LoggerFactory.getLogger(TargetOverlay.class);
    static final String CHANGED = "targets";
    /** HSET the entry unless the hash has one at least as recent (its value starts with its time). */
    private static final String SET_IF_NEWER = """
            local cur = redis.call('HGET', KEYS[1], ARGV[1])
            if cur then
              local at = tonumber(string.match(cur, '^(%d+)'))
              if at and at >= tonumber(ARGV[3]) then return 0 end
            end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            return 1
            """;

    private final RedisLink link;
    private final String key;
    private final Map<String, OverlayEntry> known = new ConcurrentHashMap<>();
    private final AtomicBoolean syncing = new AtomicBoolean();
    private final AtomicBoolean again = new AtomicBoolean();
    private volatile Consumer<Collection<OverlayEntry>> apply = e -> { };
    private volatile boolean synced;

    TargetOverlay(RedisLink link, String prefix) {
        this.link = link;
        this.key = prefix + "targets";
    }

    void onChange(Consumer<Collection<OverlayEntry>> apply) {
        this.apply = apply;
    }

    /**
     * A change made through this instance's admin API (already applied here): written, and sent
     * to the other instances with the message, so they apply it without reading the hash first.
     */
    void record(OverlayEntry e) {
        merge(e);
        push(e);
        link.publish(CHANGED + "\n" + e.field() + "\n" + e.value());
    }

    /** A message on the cluster channel: one change to apply, or "read it all". */
    void received(String message) {
        String[] p = message.split("\n", 3);
        if (!p[0].equals(CHANGED)) {
            return;
        }
        OverlayEntry e = p.length == 3 ? OverlayEntry.parse(p[1], p[2]) : null;
        if (e == null) {
            sync();
            return;
        }
        if (merge(e)) {
            apply.accept(List.copyOf(known.values()));
        }
    }

    /** Keeps the later of {@code e} and what is known; true when {@code e} was new. */
    private boolean merge(OverlayEntry e) {
        return known.merge(e.field(), e, (old, nu) -> nu.newerThan(old) ? nu : old) == e;
    }

    /** Writes {@code e} unless Redis has a later one; completes false when not written. */
    private CompletableFuture<Boolean> push(OverlayEntry e) {
        RedisAsyncCommands<String, String> r = link.commands();
        if (r == null) {
            return CompletableFuture.completedFuture(false);
        }
        return link.track(r.<Long>eval(SET_IF_NEWER, ScriptOutputType.INTEGER, new String[] {key}, e.field(), e.value(),
                                       Long.toString(e.at())))
                .handle((n, ex) -> ex == null && n != null && n == 1L).toCompletableFuture();
    }

    /**
     * Writes back what Redis lacks, reads the whole overlay, merges it and hands it on. Runs one
     * at a time; a request during one makes it run once more.
     */
    void sync() {
        if (!syncing.compareAndSet(false, true)) {
            again.set(true);
            return;
        }
        RedisAsyncCommands<String, String> r = link.commands();
        if (r == null) {
            done();
            return;
        }
        link.track(r.hgetall(key)).whenComplete((all, e) -> {
            if (e != null) {
                done();
                return;
            }
            List<OverlayEntry> missing = new ArrayList<>();
            Map<String, OverlayEntry> remote = new java.util.HashMap<>();
            for (Map.Entry<String, String> kv : all.entrySet()) {
                OverlayEntry oe = OverlayEntry.parse(kv.getKey(), kv.getValue());
                if (oe == null) {
                    log.warn("cluster: ignoring a malformed overlay entry {} = {}", kv.getKey(), kv.getValue());
                    continue;
                }
                remote.put(oe.field(), oe);
                merge(oe);
            }
            for (OverlayEntry mine : known.values()) {
                OverlayEntry theirs = remote.get(mine.field());
                if (theirs == null || mine.newerThan(theirs)) {
                    missing.add(mine);
                }
            }
            CompletableFuture<?>[] writes = missing.stream().map(this::push).toArray(CompletableFuture[]::new);
            CompletableFuture.allOf(writes).whenComplete((v, we) -> {
                if (!missing.isEmpty()) {
                    log.info("cluster: wrote back {} target overlay entries Redis lacked", missing.size());
                    link.publish(CHANGED);
                }
                synced = true;
                apply.accept(List.copyOf(known.values()));
                done();
            });
        });
    }

    private void done() {
        syncing.set(false);
        if (again.getAndSet(false)) {
            link.executor().execute(this::sync);
        }
    }

    /** Every entry this instance knows (Redis's and its own). */
    Collection<OverlayEntry> entries() {
        return List.copyOf(known.values());
    }

    /** Whether the overlay has been read from Redis at least once. */
    boolean synced() {
        return synced;
    }
}
