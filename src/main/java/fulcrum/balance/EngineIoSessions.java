package fulcrum.balance;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Engine.IO session affinity without cookies: {@code sid -> target}, learnt from the handshake a
 * target answers ({@code 0{"sid":"...","pingInterval":25000,"pingTimeout":20000,...}}) and used
 * for every later request that carries {@code sid=} (polling GET and POST, the WebSocket
 * upgrade). A session is forgotten once idle for longer than its own ping interval + timeout,
 * or when its target turns it away. Bounded by {@code maxSessions}.
 */
public final class EngineIoSessions {
    /** Kept in case a handshake has no ping settings: Socket.IO's defaults. */
    private static final long DEFAULT_IDLE_MS = 25_000 + 20_000;
    /** Slack over ping interval + timeout, so a session is never forgotten while its client still polls. */
    private static final long MARGIN_MS = 5_000;

    private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
    private final int maxSessions;
    private final AtomicLong refused = new AtomicLong();

    private static final class Session {
        final Target target;
        final long idleNanos;
        volatile long lastSeen;

        Session(Target target, long idleNanos, long now) {
            this.target = target;
            this.idleNanos = idleNanos;
            this.lastSeen = now;
        }
    }

    public EngineIoSessions(int maxSessions) {
        this.maxSessions = maxSessions;
    }

    /** The target of session {@code sid}, or null when it is unknown or has expired. */
    public Target lookup(String sid, long nowNanos) {
        Session s = sessions.get(sid);
        if (s == null) {
            return null;
        }
        if (nowNanos - s.lastSeen > s.idleNanos) {
            if (sessions.remove(sid, s)) {
                s.target.engineIoSessionRemoved();
            }
            return null;
        }
        s.lastSeen = nowNanos;
        return s.target;
    }

    /**
     * A scanner for the handshake response a target is sending on {@code target}'s connection:
     * feed it every body piece, in order, until it says it is done.
     */
    public EngineIoHandshake handshake(Target target) {
        return new EngineIoHandshake(this, target, false);
    }

    /**
     * A scanner for the bytes a target sends over a WebSocket-first Engine.IO tunnel: its first
     * frame is the open packet (a text frame, unmasked as from a server). Feed it the raw bytes
     * the target sends, in order, until it says it is done.
     */
    public EngineIoHandshake webSocketHandshake(Target target) {
        return new EngineIoHandshake(this, target, true);
    }

    /** Remembers {@code sid} on {@code target}; false when the table is full. */
    boolean remember(String sid, long intervalMs, long timeoutMs, Target target, long nowNanos) {
        long idleMs = intervalMs > 0 && timeoutMs > 0 ? intervalMs + timeoutMs : DEFAULT_IDLE_MS;
        if (sessions.size() >= maxSessions) {
            sweep(nowNanos);
            if (sessions.size() >= maxSessions) {
                refused.incrementAndGet();
                return false;
            }
        }
        target.engineIoSessionAdded();
        Session previous = sessions.put(sid, new Session(target, (idleMs + MARGIN_MS) * 1_000_000L, nowNanos));
        if (previous != null) {
            previous.target.engineIoSessionRemoved();
        }
        return true;
    }

    public void forget(String sid) {
        Session s = sessions.remove(sid);
        if (s != null) {
            s.target.engineIoSessionRemoved();
        }
    }

    /** Drops expired sessions. */
    public void sweep(long nowNanos) {
        for (var e : sessions.entrySet()) {
            Session s = e.getValue();
            if (nowNanos - s.lastSeen > s.idleNanos && sessions.remove(e.getKey(), s)) {
                s.target.engineIoSessionRemoved();
            }
        }
    }

    public int size() {
        return sessions.size();
    }

    /**
     * Live sessions per target, counted by walking the table: for the admin API's occasional
     * reads, so that the request path keeps no per-target count.
     */
    public java.util.Map<Target, Integer> countByTarget(long nowNanos) {
        java.util.Map<Target, Integer> counts = new java.util.HashMap<>();
        for (Session s : sessions.values()) {
            if (nowNanos - s.lastSeen <= s.idleNanos) {
                counts.merge(s.target, 1, Integer::sum);
            }
        }
        return counts;
    }

    /** Handshakes not remembered because the table was full. */
    public long refused() {
        return refused.get();
    }

    /**
     * The {@code sid} query parameter of an Engine.IO request URI (one that has {@code EIO=}),
     * or null.
     */
    public static String sid(String uri) {
        int q = uri.indexOf('?');
        if (q < 0 || uri.indexOf("EIO=", q) < 0) {
            return null;
        }
        int i = q;
        while (i >= 0 && i < uri.length()) {
            if (uri.startsWith("sid=", i + 1)) {
                int start = i + 5;
                int end = uri.indexOf('&', start);
                String v = uri.substring(start, end < 0 ? uri.length() : end);
                return v.isEmpty() ? null : v;
            }
            i = uri.indexOf('&', i + 1);
        }
        return null;
    }

    /** Whether {@code uri} opens a new Engine.IO session over HTTP long-polling. */
    public static boolean isPollingHandshake(String uri) {
        int q = uri.indexOf('?');
        return q >= 0 && uri.indexOf("EIO=", q) >= 0 && uri.indexOf("transport=polling", q) >= 0 && sid(uri) == null;
    }

    /** Whether {@code uri} opens a new Engine.IO session directly over WebSocket. */
    public static boolean isWebSocketHandshake(String uri) {
        int q = uri.indexOf('?');
        return q >= 0 && uri.indexOf("EIO=", q) >= 0 && uri.indexOf("transport=websocket", q) >= 0 && sid(uri) == null;
    }
}
