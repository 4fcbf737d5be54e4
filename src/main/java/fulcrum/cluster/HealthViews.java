package fulcrum.cluster;

import io.lettuce.core.api.async.RedisAsyncCommands;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Each instance's view of its targets' health, for GET /targets on any instance. Health stays
 * per instance (each probes its targets, as ALB nodes do); every health-view-interval an instance
 * writes its view into the hash {@code <prefix>health} (field: its id; value: the time it expires,
 * then a line "group/target state" per target) and reads the others'. Views past their time are
 * skipped (and removed): an instance that died drops out within three intervals.
 */
final class HealthViews {
    private final RedisLink link;
    private final String key;
    private final String instance;
    private final long ttlMs;
    private volatile Map<String, Map<String, String>> peers = Map.of();

    HealthViews(RedisLink link, String prefix, String instance) {
        this.link = link;
        this.key = prefix + "health";
        this.instance = instance;
        this.ttlMs = link.settings().healthViewInterval().toMillis() * 3;
    }

    /** Publishes {@code view} ("group/target" to state) and reads the other instances'. */
    void exchange(Map<String, String> view) {
        RedisAsyncCommands<String, String> r = link.commands();
        if (r == null) {
            return;
        }
        long now = System.currentTimeMillis();
        StringBuilder b = new StringBuilder().append(now + ttlMs);
        view.forEach((t, state) -> b.append('\n').append(t).append(' ').append(state));
        link.track(r.hset(key, instance, b.toString()));
        link.track(r.hgetall(key)).thenAccept(all -> {
            Map<String, Map<String, String>> next = new LinkedHashMap<>();
            List<String> stale = new ArrayList<>();
            for (Map.Entry<String, String> e : all.entrySet()) {
                if (e.getKey().equals(instance)) {
                    continue;
                }
                Map<String, String> v = parse(e.getValue(), now);
                if (v == null) {
                    stale.add(e.getKey());
                } else {
                    next.put(e.getKey(), v);
                }
            }
            if (!stale.isEmpty()) {
                link.track(r.hdel(key, stale.toArray(String[]::new)));
            }
            peers = next;
        });
    }

    private static Map<String, String> parse(String value, long now) {
        String[] lines = value.split("\n");
        try {
            if (Long.parseLong(lines[0]) < now) {
                return null;
            }
        } catch (NumberFormatException e) {
            return null;
        }
        Map<String, String> v = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int sp = lines[i].lastIndexOf(' ');
            if (sp > 0) {
                v.put(lines[i].substring(0, sp), lines[i].substring(sp + 1));
            }
        }
        return v;
    }

    /** The other instances' views last read: instance to ("group/target" to state). */
    Map<String, Map<String, String>> peers() {
        return peers;
    }
}
