package fulcrum.balance;

import fulcrum.config.FulcrumSettings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What EngineIoSessions tells a shared store, and when: the Redis side is proven by ClusterTest;
 * here the store only records the calls, to count writes per request.
 */
class SharedSessionsTest {
    private static final long S = 1_000_000_000L;
    private static final String HANDSHAKE = "0{\"sid\":\"s1\",\"pingInterval\":25000,\"pingTimeout\":20000}";

    private static final class Recording implements SessionStore {
        final List<String> calls = new ArrayList<>();

        @Override
        public boolean shared() {
            return true;
        }

        @Override
        public Duration lookupTimeout() {
            return Duration.ofMillis(150);
        }

        @Override
        public void put(String group, String sid, String targetId, long idleMs) {
            calls.add("put " + group + " " + sid + " " + targetId + " " + idleMs);
        }

        @Override
        public void remove(String group, String sid) {
            calls.add("remove " + group + " " + sid);
        }

        @Override
        public CompletionStage<Shared> lookup(String group, String sid) {
            calls.add("lookup " + group + " " + sid);
            return CompletableFuture.completedFuture(null);
        }
    }

    private static TargetGroup group() {
        FulcrumSettings s = FulcrumSettings.from(com.typesafe.config.ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = l, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g { targets = [\"127.0.0.1:3001\", \"127.0.0.1:3002\"]\n"
                + "stickiness { enabled = true, type = engine-io } } }"));
        return new TargetGroup(s.targetGroups().get("g"), new byte[32]);
    }

    @Test
    void aLearntSessionIsWrittenOnceAndRefreshedAtMostEveryQuarterOfItsIdleTime() {
        TargetGroup g = group();
        Recording store = new Recording();
        g.engineIo().share("g", store);
        Target a = g.snapshot().all().get(0);
        ByteBuf b = Unpooled.copiedBuffer(HANDSHAKE, StandardCharsets.US_ASCII);
        try {
            assertEquals("s1", EngineIoHandshake.once(g.engineIo().handshake(a), b, 0));
        } finally {
            b.release();
        }
        // Idle time 25 s + 20 s + 5 s of slack: refreshed after 12.5 s of use, not before.
        assertEquals(List.of("put g s1 127.0.0.1:3001 50000"), store.calls);
        for (long t = 1; t <= 12; t++) {
            assertSame(a, g.engineIo().lookup("s1", t * S));
        }
        assertEquals(1, store.calls.size(), "no write per request: " + store.calls);
        assertSame(a, g.engineIo().lookup("s1", 13 * S));
        assertEquals("put g s1 127.0.0.1:3001 50000", store.calls.get(1));
        assertSame(a, g.engineIo().lookup("s1", 14 * S));
        assertEquals(2, store.calls.size());
    }

    @Test
    void aSessionFromAnotherInstanceIsAdoptedWhenItsTargetIsHere() {
        TargetGroup g = group();
        Recording store = new Recording();
        g.engineIo().share("g", store);
        assertFalse(g.engineIo().knows("s2", 0));
        Target t = g.engineIo().adopt("s2", new SessionStore.Shared("127.0.0.1:3002", 50_000), g.snapshot(), 0);
        assertEquals("127.0.0.1:3002", t.id());
        assertTrue(g.engineIo().knows("s2", 49 * S));
        assertFalse(g.engineIo().knows("s2", 51 * S));
        assertNull(g.engineIo().adopt("s3", new SessionStore.Shared("10.9.9.9:1", 50_000), g.snapshot(), 0),
                   "a target this instance does not have");
        assertTrue(store.calls.isEmpty(), "adopting writes nothing back: " + store.calls);
    }

    @Test
    void aSessionHeardFromAnotherInstanceIsKnownAndItsRefreshCountsHere() {
        TargetGroup g = group();
        Recording store = new Recording();
        g.engineIo().share("g", store);
        g.engineIo().heard("s6", new SessionStore.Shared("127.0.0.1:3002", 50_000), g.snapshot(), 0);
        assertEquals("127.0.0.1:3002", g.engineIo().lookup("s6", 10 * S).id());
        // Heard again at 40 s (another instance refreshed it): alive at 80 s, and no write from here yet.
        g.engineIo().heard("s6", new SessionStore.Shared("127.0.0.1:3002", 50_000), g.snapshot(), 40 * S);
        assertEquals("127.0.0.1:3002", g.engineIo().lookup("s6", 80 * S).id());
        assertEquals(List.of("put g s6 127.0.0.1:3002 50000"), store.calls, "refreshed once, 40 s after it was heard");
        g.engineIo().heard("s7", new SessionStore.Shared("10.9.9.9:1", 50_000), g.snapshot(), 0);
        assertFalse(g.engineIo().knows("s7", 0), "a target this instance does not have");
    }

    @Test
    void onlyTheSessionsOwnTargetTurningItAwayRemovesItEverywhere() {
        TargetGroup g = group();
        Recording store = new Recording();
        g.engineIo().share("g", store);
        g.engineIo().adopt("s4", new SessionStore.Shared("127.0.0.1:3001", 50_000), g.snapshot(), 0);
        g.engineIo().forget("s4");
        assertTrue(store.calls.isEmpty());
        g.engineIo().ended("s5");
        assertEquals(List.of("remove g s5"), store.calls);
    }
}
