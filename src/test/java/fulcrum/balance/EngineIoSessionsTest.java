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
            String sid = s.learn(b, t, now);
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
    void learnsFromTheFirstFrameOfAWebSocketFirstSession() {
        TargetGroup g = group(100);
        EngineIoSessions s = g.engineIo();
        Target a = g.snapshot().all().get(0);
        byte[] open = "0{\"sid\":\"wsfirst\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}"
                .getBytes(StandardCharsets.US_ASCII);
        ByteBuf frame = Unpooled.buffer().writeByte(0x81).writeByte(open.length).writeBytes(open)
                                .writeByte(0x81).writeByte(2).writeBytes("40".getBytes(StandardCharsets.US_ASCII));
        try {
            assertEquals("wsfirst", s.learnFromFrame(frame, a, 0));
            assertEquals(0, frame.readerIndex());
        } finally {
            frame.release();
        }
        assertSame(a, s.lookup("wsfirst", S));
        ByteBuf binary = Unpooled.buffer().writeByte(0x82).writeByte(1).writeByte(0);
        try {
            assertNull(s.learnFromFrame(binary, a, 0));
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

    private static long usedHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
