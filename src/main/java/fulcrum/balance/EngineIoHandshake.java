package fulcrum.balance;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/**
 * Finds the session an Engine.IO handshake opens ({@code "sid"}, {@code "pingInterval"},
 * {@code "pingTimeout"} of the open packet, in any order) in bytes that arrive in pieces split
 * anywhere, and remembers it in its {@link EngineIoSessions}. Two inputs: a polling handshake's
 * response body ({@code 0{...}}, or v3's {@code 96:0{...}}), or the raw bytes a target sends over
 * a WebSocket-first tunnel, whose first frame carries the open packet.
 *
 * <p>A small tokenizer over the bytes, not a search for {@code "sid":"}: its state survives
 * between pieces, so a split inside a key, a sid or a number changes nothing, and nothing is
 * copied except a sid that is itself split. It stops at the end of the open packet's JSON object,
 * at the end of the first frame, or after {@value #SCAN_LIMIT} bytes. One per handshake, fed from
 * one event loop.
 */
public final class EngineIoHandshake {
    static final int SCAN_LIMIT = 1024;
    private static final int MAX_SID = 128;
    private static final int MAX_DIGITS = 10;
    private static final byte[][] KEYS = {ascii("sid"), ascii("pingInterval"), ascii("pingTimeout")};
    private static final int SID = 0;
    private static final int INTERVAL = 1;
    private static final int TIMEOUT = 2;
    private static final int ALL_KEYS = 0b111;

    // Where the tokenizer is.
    private static final int OUTSIDE = 0;
    private static final int STRING = 1;
    private static final int AFTER_KEY = 2;
    private static final int BEFORE_VALUE = 3;
    private static final int SID_VALUE = 4;
    private static final int NUMBER = 5;
    /** Past the open packet's closing brace. */
    private static final int END = 6;
    // A WebSocket frame's header, before its payload: every state from FRAME_OPCODE on.
    private static final int FRAME_OPCODE = 7;
    private static final int FRAME_LENGTH = 8;
    private static final int FRAME_LENGTH_16 = 9;

    private final EngineIoSessions sessions;
    private final Target target;
    private boolean done;
    private int state;
    private int scanned;
    /** Payload bytes of the first frame not yet seen; -1 for a response body, which has no frame. */
    private int payloadLeft;
    private int lengthBytesLeft;
    private int depth;
    private boolean escaped;
    /** The {@link #KEYS} the string being read still matches (a bit each), and its length so far. */
    private int candidates;
    private int keyLength;
    /** The key whose value comes next. */
    private int key;
    private long number;
    private int digits;
    private long interval = -1;
    private long timeout = -1;
    private String sid;
    private int sidLength;
    /** The start of a sid split over pieces; only allocated then. */
    private byte[] sidHead;
    private int sidHeadLength;
    private String learnt;

    EngineIoHandshake(EngineIoSessions sessions, Target target, boolean webSocket) {
        this.sessions = sessions;
        this.target = target;
        this.state = webSocket ? FRAME_OPCODE : OUTSIDE;
        this.payloadLeft = webSocket ? 0 : -1;
    }

    /** Feeds a whole handshake in one piece, and settles with what it found. */
    static String once(EngineIoHandshake h, ByteBuf piece, long nowNanos) {
        if (!h.feed(piece, nowNanos)) {
            h.finish(nowNanos);
        }
        return h.learnt;
    }

    /**
     * Scans the next piece (from its reader index to its writer index; the buffer is left as it
     * is). Returns true once done, the session learnt or given up on: no later piece is needed,
     * and feeding more does nothing.
     */
    public boolean feed(ByteBuf piece, long nowNanos) {
        if (done) {
            return true;
        }
        int end = piece.writerIndex();
        int sidFrom = piece.readerIndex();
        for (int i = piece.readerIndex(); i < end; i++) {
            byte c = piece.getByte(i);
            if (state >= FRAME_OPCODE) {
                frameHeader(c);
            } else {
                if (state == SID_VALUE) {
                    if (c == '"') {
                        sid = sidOf(piece, sidFrom, i);
                        state = OUTSIDE;
                        if (sid == null) {
                            giveUp();
                        }
                    } else if (++sidLength > MAX_SID) {
                        giveUp();
                    }
                } else {
                    step(c);
                    if (state == SID_VALUE) {
                        sidFrom = i + 1;
                    }
                }
                if (!done && (state == END || complete() || ++scanned >= SCAN_LIMIT
                              || (payloadLeft > 0 && --payloadLeft == 0))) {
                    finish(nowNanos);
                }
            }
            if (done) {
                return true;
            }
        }
        if (state == SID_VALUE && sidFrom < end) {
            keepSidHead(piece, sidFrom, end);
        }
        return false;
    }

    /** The session learnt; null before, when there was none, or when the table was full. */
    public String sid() {
        return learnt;
    }

    private void frameHeader(int c) {
        switch (state) {
            case FRAME_OPCODE -> {
                // A text frame, uncompressed (RSV bits clear): anything else holds no readable open packet.
                if ((c & 0x7f) != 1) {
                    giveUp();
                    return;
                }
                state = FRAME_LENGTH;
            }
            case FRAME_LENGTH -> {
                int len = c & 0x7f;
                if ((c & 0x80) != 0 || len == 0 || len == 127) {
                    giveUp(); // masked (not from a server), empty, or longer than any open packet
                } else if (len == 126) {
                    lengthBytesLeft = 2;
                    state = FRAME_LENGTH_16;
                } else {
                    payloadLeft = len;
                    state = OUTSIDE;
                }
            }
            default -> {
                payloadLeft = payloadLeft << 8 | (c & 0xff);
                if (--lengthBytesLeft == 0) {
                    state = OUTSIDE;
                    if (payloadLeft == 0) {
                        giveUp();
                    }
                }
            }
        }
    }

    /** One byte of the JSON (or what precedes it) in any state but {@link #SID_VALUE}. */
    private void step(byte c) {
        switch (state) {
            case STRING -> string(c);
            case AFTER_KEY -> {
                if (c == ':') {
                    state = BEFORE_VALUE;
                } else if (!whitespace(c)) {
                    outside(c); // the string was a value, not a key
                }
            }
            case BEFORE_VALUE -> {
                if (whitespace(c)) {
                    return;
                }
                if (key == SID && c == '"' && sid == null) {
                    sidLength = 0;
                    state = SID_VALUE;
                } else if (key != SID && c >= '0' && c <= '9') {
                    number = c - '0';
                    digits = 1;
                    state = NUMBER;
                } else {
                    outside(c);
                }
            }
            case NUMBER -> {
                if (c >= '0' && c <= '9') {
                    number = number * 10 + (c - '0');
                    digits++;
                    return;
                }
                if (digits <= MAX_DIGITS) {
                    if (key == INTERVAL && interval < 0) {
                        interval = number;
                    } else if (key == TIMEOUT && timeout < 0) {
                        timeout = number;
                    }
                }
                outside(c);
            }
            default -> outside(c);
        }
    }

    private void outside(byte c) {
        state = OUTSIDE;
        if (c == '"') {
            state = STRING;
            candidates = ALL_KEYS;
            keyLength = 0;
            escaped = false;
        } else if (c == '{') {
            depth++;
        } else if (c == '}' && depth > 0 && --depth == 0) {
            state = END;
        }
    }

    private void string(byte c) {
        if (escaped) {
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
            candidates = 0; // no key is written with escapes
            return;
        } else if (c == '"') {
            key = -1;
            for (int k = 0; k < KEYS.length; k++) {
                if ((candidates & 1 << k) != 0 && KEYS[k].length == keyLength) {
                    key = k;
                }
            }
            state = key < 0 ? OUTSIDE : AFTER_KEY;
            return;
        }
        for (int k = 0; k < KEYS.length; k++) {
            if ((candidates & 1 << k) != 0 && (keyLength >= KEYS[k].length || KEYS[k][keyLength] != c)) {
                candidates &= ~(1 << k);
            }
        }
        keyLength++;
    }

    /** The sid that ends before {@code to}: its head kept from earlier pieces, its rest in this one. */
    private String sidOf(ByteBuf piece, int from, int to) {
        if (sidLength == 0) {
            return null;
        }
        if (sidHead == null) {
            return piece.toString(from, to - from, StandardCharsets.US_ASCII);
        }
        keepSidHead(piece, from, to);
        return new String(sidHead, 0, sidHeadLength, StandardCharsets.US_ASCII);
    }

    private void keepSidHead(ByteBuf piece, int from, int to) {
        if (sidHead == null) {
            sidHead = new byte[MAX_SID];
        }
        piece.getBytes(from, sidHead, sidHeadLength, to - from);
        sidHeadLength += to - from;
    }

    private boolean complete() {
        return sid != null && interval >= 0 && timeout >= 0;
    }

    /** Learns what was found: the sid with its ping settings (or the defaults when they are missing). */
    void finish(long nowNanos) {
        done = true;
        if (sid != null && learnt == null && sessions.remember(sid, interval, timeout, target, nowNanos)) {
            learnt = sid;
        }
    }

    private void giveUp() {
        done = true;
        sid = null;
    }

    private static boolean whitespace(byte c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
