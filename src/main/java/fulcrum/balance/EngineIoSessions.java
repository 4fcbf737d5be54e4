package fulcrum.balance;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * Engine.IO session affinity without cookies: {@code sid -> target}, learnt from the handshake a
 * target answers ({@code 0{"sid":"...","pingInterval":25000,"pingTimeout":20000,...}}) and used
 * for every later request that carries {@code sid=} (polling GET and POST, the WebSocket
 * upgrade). A session is forgotten once idle for longer than its own ping interval + timeout,
 * or when its target turns it away. Bounded by {@code maxSessions}.
 *
 * <p>With a shared {@link SessionStore} (several instances as one), every session learnt here is
 * written through to it, a session another instance learnt is {@linkplain #lookupShared looked up}
 * there when a request brings an unknown sid, and a session in use is touched there at most every
 * quarter of its idle time, so requests do not each cost a write (a write, not an expiry change: it
 * also puts back a session a restarted Redis lost).
 */
public final class EngineIoSessions {
    /** Kept in case a handshake has no ping settings: Socket.IO's defaults. */
    private static final long DEFAULT_IDLE_MS = 25_000 + 20_000;
    /** Slack over ping interval + timeout, so a session is never forgotten while its client still polls. */
    private static final long MARGIN_MS = 5_000;

    private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
    private final int maxSessions;
    private final AtomicLong refused = new AtomicLong();
    private volatile SessionStore store = SessionStore.NONE;
    /** The group's name: the sessions' scope in the store. */
    private volatile String scope = "";

    private static final class Session {
        final Target target;
        final long idleNanos;
        volatile long lastSeen;
        /** When the store last heard of this session from here. */
        volatile long sharedAt;

        Session(Target target, long idleNanos, long now) {
            this.target = target;
            this.idleNanos = idleNanos;
            this.lastSeen = now;
            this.sharedAt = now;
        }
    }

    public EngineIoSessions(int maxSessions) {
        this.maxSessions = maxSessions;
    }

    /** Shares this group's sessions through {@code store}, under the name {@code scope}; before any traffic. */
    public void share(String scope, SessionStore store) {
        this.scope = requireNonNull(scope, "scope");
        this.store = requireNonNull(store, "store");
    }

    /** Whether sessions are shared with other instances. */
    public boolean shared() {
        return store.shared();
    }

    /** How long a request may wait for {@link #lookupShared}. */
    public long lookupTimeoutMillis() {
        return store.lookupTimeout().toMillis();
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
        if (nowNanos - s.sharedAt > s.idleNanos / 4 && store.shared()) {
            s.sharedAt = nowNanos;
            store.put(scope, sid, s.target.id(), s.idleNanos / 1_000_000L);
        }
        return s.target;
    }

    /** Whether {@code sid} is known here (and not expired), without counting as a use. */
    public boolean knows(String sid, long nowNanos) {
        Session s = sessions.get(sid);
        return s != null && nowNanos - s.lastSeen <= s.idleNanos;
    }

    /** Asks the shared store for a session this instance does not know; completes null when none. */
    public CompletionStage<SessionStore.Shared> lookupShared(String sid) {
        return store.lookup(scope, sid);
    }

    /** A request stopped waiting for {@link #lookupShared}. */
    public void lookupTimedOut() {
        store.lookupTimedOut();
    }

    /**
     * Takes a session another instance learnt, when its target is one of {@code snapshot}'s and
     * it is not known here already; returns that target, or null when it is not one of ours.
     */
    public Target adopt(String sid, SessionStore.Shared shared, Snapshot snapshot, long nowNanos) {
        Target t = snapshot.byId(shared.targetId());
        if (t == null || sessions.size() >= maxSessions || sessions.containsKey(sid)) {
            return t;
        }
        put(sid, new Session(t, shared.idleMs() * 1_000_000L, nowNanos));
        return t;
    }

    /**
     * Another instance learnt or used session {@code sid}: it is known here from now on (or its
     * idle time starts again), when its target is one of {@code snapshot}'s. Writes nothing back.
     */
    public void heard(String sid, SessionStore.Shared shared, Snapshot snapshot, long nowNanos) {
        Session s = sessions.get(sid);
        if (s != null && s.target.id().equals(shared.targetId())) {
            s.lastSeen = nowNanos;
            s.sharedAt = nowNanos; // the store was just written: no refresh from here for a while
            return;
        }
        Target t = snapshot.byId(shared.targetId());
        if (t != null && (s != null || sessions.size() < maxSessions)) {
            put(sid, new Session(t, shared.idleMs() * 1_000_000L, nowNanos));
        }
    }

    /** Keeps {@code s}, counting it on its target (and no longer on the one it replaces). */
    private void put(String sid, Session s) {
        s.target.engineIoSessionAdded();
        Session previous = sessions.put(sid, s);
        if (previous != null) {
            previous.target.engineIoSessionRemoved();
        }
    }

    /** Every session known here, for writing them back to a store that lost them (Redis restarted empty). */
    public void forEachLive(long nowNanos, SessionVisitor v) {
        sessions.forEach((sid, s) -> {
            long left = s.idleNanos - (nowNanos - s.lastSeen);
            if (left > 0) {
                v.visit(sid, s.target.id(), left / 1_000_000L);
            }
        });
    }

    /** What {@link #forEachLive} sees of each session. */
    public interface SessionVisitor {
        void visit(String sid, String targetId, long remainingMs);
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
        store.put(scope, sid, target.id(), idleMs + MARGIN_MS);
        return true;
    }

    /** Forgets {@code sid} here only (its target is not routable from here). */
    public void forget(String sid) {
        Session s = sessions.remove(sid);
        if (s != null) {
            s.target.engineIoSessionRemoved();
        }
    }

    /** Forgets {@code sid} here and in the shared store: its own target no longer knows it. */
    public void ended(String sid) {
        forget(sid);
        store.remove(scope, sid);
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
        return sid(uri) == null && opens(uri, "transport=polling");
    }

    /** Whether {@code uri} opens a new Engine.IO session directly over WebSocket. */
    public static boolean isWebSocketHandshake(String uri) {
        return sid(uri) == null && opens(uri, "transport=websocket");
    }

    /** Whether {@code uri}, known to carry no sid, is an Engine.IO request with {@code transport} ("transport=polling"). */
    static boolean opens(String uri, String transport) {
        int q = uri.indexOf('?');
        return q >= 0 && uri.indexOf("EIO=", q) >= 0 && uri.indexOf(transport, q) >= 0;
    }
}
