package fulcrum.cluster;

import fulcrum.balance.SessionStore;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class RedisSessionsTest {
    @Test
    void aStoredSessionIsItsTargetAndIdleTime() {
        assertEquals(new SessionStore.Shared("127.0.0.1:3001", 50_000), RedisSessions.parse("127.0.0.1:3001 50000"));
        assertEquals(new SessionStore.Shared("[::1]:3001", 1), RedisSessions.parse("[::1]:3001 1"));
    }

    @Test
    void anythingElseIsNoSession() {
        assertNull(RedisSessions.parse(null));
        assertNull(RedisSessions.parse(""));
        assertNull(RedisSessions.parse("127.0.0.1:3001"));
        assertNull(RedisSessions.parse("127.0.0.1:3001 0"));
        assertNull(RedisSessions.parse("127.0.0.1:3001 soon"));
        assertNull(RedisSessions.parse(" 5"));
    }
}
