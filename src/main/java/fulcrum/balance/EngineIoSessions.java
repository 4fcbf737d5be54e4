package fulcrum.balance;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
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
    private static final int SCAN_LIMIT = 1024;
    private static final byte[] SID_KEY = "\"sid\":\"".getBytes(StandardCharsets.US_ASCII);

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
            sessions.remove(sid, s);
            return null;
        }
        s.lastSeen = nowNanos;
        return s.target;
    }

    /**
     * Learns the session a handshake response opened on {@code target}: {@code body} is the start
     * of the response body (not consumed). Returns the sid, or null when it holds no handshake.
     */
    public String learn(ByteBuf body, Target target, long nowNanos) {
        int from = body.readerIndex();
        int to = Math.min(body.writerIndex(), from + SCAN_LIMIT);
        int key = indexOf(body, from, to, SID_KEY);
        if (key < 0) {
            return null;
        }
        int start = key + SID_KEY.length;
        int end = body.indexOf(start, to, (byte) '"');
        if (end <= start || end - start > 128) {
            return null;
        }
        String sid = body.toString(start, end - start, StandardCharsets.US_ASCII);
        long interval = number(body, from, to, "\"pingInterval\":");
        long timeout = number(body, from, to, "\"pingTimeout\":");
        long idleMs = interval > 0 && timeout > 0 ? interval + timeout : DEFAULT_IDLE_MS;
        if (sessions.size() >= maxSessions) {
            sweep(nowNanos);
            if (sessions.size() >= maxSessions) {
                refused.incrementAndGet();
                return null;
            }
        }
        sessions.put(sid, new Session(target, (idleMs + MARGIN_MS) * 1_000_000L, nowNanos));
        return sid;
    }

    public void forget(String sid) {
        sessions.remove(sid);
    }

    /** Drops expired sessions. */
    public void sweep(long nowNanos) {
        sessions.entrySet().removeIf(e -> nowNanos - e.getValue().lastSeen > e.getValue().idleNanos);
    }

    public int size() {
        return sessions.size();
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

    /**
     * Learns the session a WebSocket-first handshake opened: {@code frames} holds the first bytes
     * the target sent over the tunnel, whose first frame is the Engine.IO open packet (a text
     * frame, unmasked as from a server). Returns the sid, or null when it is not there.
     */
    public String learnFromFrame(ByteBuf frames, Target target, long nowNanos) {
        int i = frames.readerIndex();
        if (frames.readableBytes() < 2 || (frames.getByte(i) & 0x0f) != 1) {
            return null;
        }
        int len = frames.getByte(i + 1) & 0x7f;
        int header = 2;
        if (len == 126) {
            if (frames.readableBytes() < 4) {
                return null;
            }
            len = frames.getUnsignedShort(i + 2);
            header = 4;
        } else if (len == 127) {
            return null; // an open packet is never that long
        }
        if (frames.readableBytes() < header + Math.min(len, 16)) {
            return null;
        }
        int available = Math.min(len, frames.readableBytes() - header);
        return learn(frames.slice(i + header, available), target, nowNanos);
    }

    private static long number(ByteBuf b, int from, int to, String key) {
        int at = indexOf(b, from, to, key.getBytes(StandardCharsets.US_ASCII));
        if (at < 0) {
            return -1;
        }
        long v = 0;
        int digits = 0;
        for (int i = at + key.length(); i < to && digits < 10; i++, digits++) {
            byte c = b.getByte(i);
            if (c < '0' || c > '9') {
                break;
            }
            v = v * 10 + (c - '0');
        }
        return digits == 0 ? -1 : v;
    }

    private static int indexOf(ByteBuf b, int from, int to, byte[] needle) {
        outer:
        for (int i = from; i <= to - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (b.getByte(i + j) != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
