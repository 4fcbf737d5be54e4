package fulcrum.balance;

import fulcrum.config.FulcrumSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineIoSessionsTest {
    private static final long S = 1_000_000_000L;

    private static TargetGroup group(int maxSessions) {
        FulcrumSettings s = FulcrumSettings.from(com.typesafe.config.ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = l, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g { targets = [\"127.0.0.1:3001\", \"127.0.0.1:3002\"]\n"
                + "stickiness { enabled = true, type = engine-io, max-sessions = " + maxSessions + " } } }"));
        return new TargetGroup(s.targetGroups().get("g"), new byte[32]);
    }

    private static String learn(EngineIoSessions s, String body, Target t, long now) {
        ByteBuf b = Unpooled.copiedBuffer(body, StandardCharsets.ISO_8859_1);
        try {
            String sid = EngineIoHandshake.once(s.handshake(t), b, now);
            assertEquals(0, b.readerIndex(), "the body is left for the client");
            return sid;
        } finally {
            b.release();
        }
    }

    @Test
    void sidAndHandshakeFromUris() {
        assertEquals("abc-_1", EngineIoSessions.sid("/socket.io/?EIO=4&transport=polling&t=x&sid=abc-_1"));
        assertEquals("abc", EngineIoSessions.sid("/socket.io/?sid=abc&EIO=4&transport=websocket"));
        assertNull(EngineIoSessions.sid("/socket.io/?EIO=4&transport=polling&t=x"));
        assertNull(EngineIoSessions.sid("/api?sid=abc"), "not an Engine.IO request");
        assertNull(EngineIoSessions.sid("/socket.io/?EIO=4&xsid=abc"));
        assertTrue(EngineIoSessions.isPollingHandshake("/socket.io/?EIO=4&transport=polling&t=Nx1"));
        assertFalse(EngineIoSessions.isPollingHandshake("/socket.io/?EIO=4&transport=polling&sid=a"));
        assertFalse(EngineIoSessions.isPollingHandshake("/socket.io/?EIO=4&transport=websocket"));
    }

    @Test
    void learnsFromV4AndV3Handshakes() {
        TargetGroup g = group(100);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        Target b = g.snapshot().all().get(1);
        assertEquals("v4sid", learn(s, "0{\"sid\":\"v4sid\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
                                      + "\"pingTimeout\":20000,\"maxPayload\":1000000}", a, 0));
        assertEquals("v3sid", learn(s, "96:0{\"sid\":\"v3sid\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
                                      + "\"pingTimeout\":5000}2:40", b, 0));
        assertEquals("bin", learn(s, "\u0000\u0009\u0006\u00ff0{\"sid\":\"bin\",\"pingInterval\":1000,\"pingTimeout\":1000}",
                                  a, 0));
        assertNull(learn(s, "ok", a, 0));
        assertSame(a, s.lookup("v4sid", 10 * S));
        assertSame(b, s.lookup("v3sid", 10 * S));
        // Idle past pingInterval + pingTimeout (+ 5 s slack): forgotten.
        assertSame(a, s.lookup("bin", 6 * S));
        assertNull(s.lookup("bin", 6 * S + 8 * S));
        assertNull(s.lookup("v3sid", 10 * S + 36 * S));
        assertSame(a, s.lookup("v4sid", 10 * S + 49 * S), "each lookup renews the session");
    }

    @Test
    void countsLiveSessionsByTarget() {
        TargetGroup g = group(100);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        Target b = g.snapshot().all().get(1);
        learn(s, "0{\"sid\":\"a1\",\"pingInterval\":1000,\"pingTimeout\":1000}", a, 0);
        learn(s, "0{\"sid\":\"a2\",\"pingInterval\":25000,\"pingTimeout\":20000}", a, 0);
        learn(s, "0{\"sid\":\"b1\",\"pingInterval\":25000,\"pingTimeout\":20000}", b, 0);
        assertEquals(java.util.Map.of(a, 2, b, 1), s.countByTarget(S));
        // a1 idle past 1 + 1 + 5 s: no longer counted, even before a sweep drops it.
        assertEquals(java.util.Map.of(a, 1, b, 1), s.countByTarget(8 * S));
    }

    @Test
    void learnsFromTheFirstFrameOfAWebSocketFirstSession() {
        TargetGroup g = group(100);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        byte[] open = "0{\"sid\":\"wsfirst\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}"
                .getBytes(StandardCharsets.US_ASCII);
        ByteBuf frame = Unpooled.buffer().writeByte(0x81).writeByte(open.length).writeBytes(open)
                                .writeByte(0x81).writeByte(2).writeBytes("40".getBytes(StandardCharsets.US_ASCII));
        try {
            assertEquals("wsfirst", EngineIoHandshake.once(s.webSocketHandshake(a), frame, 0));
            assertEquals(0, frame.readerIndex());
        } finally {
            frame.release();
        }
        assertSame(a, s.lookup("wsfirst", S));
        ByteBuf binary = Unpooled.buffer().writeByte(0x82).writeByte(1).writeByte(0);
        try {
            assertNull(EngineIoHandshake.once(s.webSocketHandshake(a), binary, 0));
        } finally {
            binary.release();
        }
        assertTrue(EngineIoSessions.isWebSocketHandshake("/socket.io/?EIO=4&transport=websocket"));
        assertFalse(EngineIoSessions.isWebSocketHandshake("/socket.io/?EIO=4&transport=websocket&sid=x"));
    }

    @Test
    void theTableIsBounded() {
        TargetGroup g = group(3);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        for (int i = 0; i < 5; i++) {
            learn(s, "0{\"sid\":\"s" + i + "\",\"pingInterval\":1000,\"pingTimeout\":1000}", a, 0);
        }
        assertEquals(3, s.size());
        assertEquals(2, s.refused());
        // Once the old sessions expire, new ones are learnt again.
        assertEquals("late", learn(s, "0{\"sid\":\"late\",\"pingInterval\":1000,\"pingTimeout\":1000}", a, 60 * S));
        assertEquals(1, s.size());
    }

    @Test
    void memoryPerSessionIsMeasured() {
        TargetGroup g = group(1_000_000);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        int n = 100_000;
        long before = usedHeap();
        for (int i = 0; i < n; i++) {
            // Real sids are 20 characters of base64url.
            learn(s, "0{\"sid\":\"" + String.format("%020d", i) + "\",\"pingInterval\":25000,\"pingTimeout\":20000}",
                  a, 0);
        }
        long perSession = (usedHeap() - before) / n;
        System.out.println("engine-io session table: " + perSession + " bytes per session (" + n + " sessions)");
        assertEquals(n, s.size());
        // reference.conf says about 150 bytes; well above that means something grew that should not.
        assertTrue(perSession < 300, perSession + " bytes per session");
    }

    /** Every one of these says: session SID, pingInterval 1000, pingTimeout 2000 (idle 8 s with the slack). */
    private static final String SID = "lv_VI97HAXpY6yYWAAAC";
    private static final String[] HANDSHAKES = {
        "0{\"sid\":\"" + SID + "\",\"upgrades\":[\"websocket\"],\"pingInterval\":1000,\"pingTimeout\":2000,"
        + "\"maxPayload\":1000000}",
        "96:0{\"sid\":\"" + SID + "\",\"upgrades\":[\"websocket\"],\"pingInterval\":1000,\"pingTimeout\":2000}2:40",
        "\u0000\u0009\u0006\u00ff0{\"sid\":\"" + SID + "\",\"pingInterval\":1000,\"pingTimeout\":2000}",
        "0{\"pingInterval\":1000,\"upgrades\":[],\"pingTimeout\":2000,\"sid\":\"" + SID + "\",\"maxPayload\":1}",
        // Decoys: "sid" as a value, and "sid":"..." inside another string.
        "0{\"upgrades\":[\"sid\"],\"note\":\"\\\"sid\\\":\\\"fake\",\"sid\" : \"" + SID
        + "\", \"pingInterval\": 1000, \"pingTimeout\": 2000}",
    };

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * Feeds {@code b} cut at {@code cuts} (ascending), each piece behind a few bytes the scanner
     * must not look at; returns whether the scanner said it was done by the last piece.
     */
    private static boolean feed(EngineIoHandshake h, byte[] b, int... cuts) {
        boolean done = false;
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : b.length;
            byte[] skipped = bytes("\"sid\":\"no\"}");
            ByteBuf piece = Unpooled.buffer().writeBytes(skipped).writeBytes(b, from, to - from);
            piece.readerIndex(skipped.length);
            int end = piece.writerIndex();
            try {
                boolean d = h.feed(piece, 0);
                assertFalse(done && !d, "once done, always done");
                done = d;
                assertEquals(skipped.length, piece.readerIndex(), "the piece is left for the client");
                assertEquals(end, piece.writerIndex());
            } finally {
                piece.release();
            }
            from = to;
        }
        return done;
    }

    /** {@code s} holds {@link #SID} on {@code t} with an idle time of 1000 + 2000 ms + 5 s. */
    private static void assertLearnt(EngineIoSessions s, EngineIoHandshake h, Target t, String what) {
        assertEquals(SID, h.sid(), what);
        assertEquals(1, s.size(), what);
        assertSame(t, s.lookup(SID, 7_500_000_000L), what + ": idle 8 s, not less");
        assertNull(s.lookup(SID, 7_500_000_000L + 8_500_000_000L), what + ": idle 8 s, not more");
    }

    @Test
    void learnsAHandshakeSplitAnywhere() {
        Target a = group(100).snapshot().all().get(0);
        for (String body : HANDSHAKES) {
            byte[] b = bytes(body);
            for (int cut = 0; cut <= b.length; cut++) {
                EngineIoSessions s = new EngineIoSessions(10);
                EngineIoHandshake h = s.handshake(a);
                String what = "cut at " + cut + " of " + body;
                assertTrue(feed(h, b, cut), what);
                assertLearnt(s, h, a, what);
            }
            for (int i = 0; i <= b.length; i++) {
                for (int j = i; j <= b.length; j++) {
                    EngineIoSessions s = new EngineIoSessions(10);
                    EngineIoHandshake h = s.handshake(a);
                    assertTrue(feed(h, b, i, j), "cuts at " + i + ", " + j + " of " + body);
                    assertEquals(SID, h.sid(), "cuts at " + i + ", " + j + " of " + body);
                }
            }
            EngineIoSessions s = new EngineIoSessions(10);
            EngineIoHandshake h = s.handshake(a);
            int[] everyByte = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                everyByte[i] = i;
            }
            assertTrue(feed(h, b, everyByte), "1-byte pieces of " + body);
            assertLearnt(s, h, a, "1-byte pieces of " + body);
        }
    }

    @Test
    void aHandshakeWithoutPingSettingsGetsTheDefaults() {
        Target a = group(100).snapshot().all().get(0);
        byte[] b = bytes("0{\"sid\":\"" + SID + "\",\"upgrades\":[]}");
        for (int cut = 0; cut <= b.length; cut++) {
            EngineIoSessions s = new EngineIoSessions(10);
            EngineIoHandshake h = s.handshake(a);
            assertTrue(feed(h, b, cut), "the closing brace ends it");
            assertEquals(SID, h.sid());
            assertSame(a, s.lookup(SID, 49 * S), "25 s + 20 s + 5 s");
            assertNull(s.lookup(SID, 49 * S + 51 * S));
        }
    }

    @Test
    void theScanIsBounded() {
        Target a = group(100).snapshot().all().get(0);
        EngineIoSessions s = new EngineIoSessions(10);
        // Past SCAN_LIMIT: given up after exactly that many bytes, nothing learnt.
        byte[] late = bytes("0{\"pad\":\"" + "x".repeat(EngineIoHandshake.SCAN_LIMIT) + "\",\"sid\":\"" + SID
                            + "\",\"pingInterval\":1000,\"pingTimeout\":2000}");
        EngineIoHandshake h = s.handshake(a);
        int fed = 0;
        while (!feed(h, new byte[] {late[fed]})) {
            fed++;
        }
        assertEquals(EngineIoHandshake.SCAN_LIMIT - 1, fed);
        assertNull(h.sid());
        // A sid longer than any real one (128 bytes), split or not.
        byte[] longSid = bytes("0{\"sid\":\"" + "s".repeat(129) + "\",\"pingInterval\":1000,\"pingTimeout\":2000}");
        assertTrue(feed(s.handshake(a), longSid));
        assertTrue(feed(s.handshake(a), longSid, 60));
        // No handshake: an answer that ends without one is never done; a JSON object without a sid is.
        EngineIoHandshake ok = s.handshake(a);
        assertFalse(feed(ok, bytes("ok")));
        assertNull(ok.sid());
        assertTrue(feed(s.handshake(a), bytes("{\"error\":\"sid\"}")));
        assertTrue(feed(s.handshake(a), bytes("0{\"sid\":\"\",\"pingInterval\":1000}")), "an empty sid");
        assertEquals(0, s.size());
        // Done means done: a second handshake fed after the first is not looked at.
        EngineIoHandshake twice = s.handshake(a);
        assertTrue(feed(twice, bytes(HANDSHAKES[0])));
        assertTrue(feed(twice, bytes("0{\"sid\":\"other\",\"pingInterval\":1000,\"pingTimeout\":2000}")));
        assertEquals(SID, twice.sid());
        assertEquals(1, s.size());
    }

    @Test
    void aFullTableLearnsNothing() {
        Target a = group(100).snapshot().all().get(0);
        EngineIoSessions s = new EngineIoSessions(1);
        assertTrue(feed(s.handshake(a), bytes(HANDSHAKES[0])));
        EngineIoHandshake refused = s.handshake(a);
        assertTrue(feed(refused, bytes(HANDSHAKES[0].replace(SID, "another")), 20));
        assertNull(refused.sid());
        assertEquals(1, s.refused());
    }

    /** A server's text frame holding {@code payload}, then a second frame ("40", the Socket.IO connect). */
    private static byte[] frames(String payload) {
        byte[] p = bytes(payload);
        ByteBuf b = Unpooled.buffer().writeByte(0x81);
        if (p.length < 126) {
            b.writeByte(p.length);
        } else {
            b.writeByte(126).writeShort(p.length);
        }
        b.writeBytes(p).writeByte(0x81).writeByte(2).writeBytes(bytes("40"));
        try {
            return io.netty.buffer.ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    @Test
    void learnsFromAWebSocketFrameSplitAnywhere() {
        Target a = group(100).snapshot().all().get(0);
        String open = "0{\"sid\":\"" + SID + "\",\"upgrades\":[],\"pingInterval\":1000,\"pingTimeout\":2000}";
        String longOpen = "0{\"pad\":\"" + "p".repeat(200) + "\",\"pingTimeout\":2000,\"sid\":\"" + SID
                          + "\",\"pingInterval\":1000}";
        for (String payload : new String[] {open, longOpen}) {
            byte[] b = frames(payload);
            for (int cut = 0; cut <= b.length; cut++) {
                EngineIoSessions s = new EngineIoSessions(10);
                EngineIoHandshake h = s.webSocketHandshake(a);
                String what = "cut at " + cut + " of a " + payload.length() + "-byte frame";
                assertTrue(feed(h, b, cut), what);
                assertLearnt(s, h, a, what);
            }
            EngineIoSessions s = new EngineIoSessions(10);
            EngineIoHandshake h = s.webSocketHandshake(a);
            int[] everyByte = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                everyByte[i] = i;
            }
            assertTrue(feed(h, b, everyByte));
            assertLearnt(s, h, a, "1-byte pieces of a " + payload.length() + "-byte frame");
        }
    }

    @Test
    void aWebSocketScanEndsWithTheFirstFrame() {
        Target a = group(100).snapshot().all().get(0);
        EngineIoSessions s = new EngineIoSessions(10);
        // The open packet cut short by its frame's end: the sid it holds is learnt, with default pings.
        String open = "0{\"sid\":\"" + SID + "\",\"pingInterval\":1000,\"pingTimeout\":2000}";
        byte[] cut = frames(open);
        cut[1] = (byte) (open.indexOf(",\"ping"));
        EngineIoHandshake h = s.webSocketHandshake(a);
        assertTrue(feed(h, cut, 3));
        assertEquals(SID, h.sid());
        assertSame(a, s.lookup(SID, 49 * S));
        // Binary, compressed (RSV1), masked, or too long for an open packet: not read.
        for (int[] head : new int[][] {{0x82, 2}, {0xc1, 2}, {0x81, 0x82}, {0x81, 127}, {0x88, 2}}) {
            EngineIoHandshake other = s.webSocketHandshake(a);
            assertTrue(feed(other, new byte[] {(byte) head[0], (byte) head[1], '0', '{'}), Integer.toHexString(head[0]));
            assertNull(other.sid());
        }
        assertEquals(1, s.size());
    }

    private static long usedHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
