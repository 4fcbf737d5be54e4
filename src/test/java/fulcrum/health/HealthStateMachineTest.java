package fulcrum.health;

import fulcrum.balance.HealthState;
import fulcrum.config.StatusMatcher;
import io.netty.channel.ConnectTimeoutException;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.time.Duration;

import static fulcrum.balance.HealthState.DRAINING;
import static fulcrum.balance.HealthState.HEALTHY;
import static fulcrum.balance.HealthState.INITIAL;
import static fulcrum.balance.HealthState.UNHEALTHY;
import static fulcrum.balance.HealthState.UNUSED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HealthStateMachineTest {
    private final HealthStateMachine m = new HealthStateMachine();

    @Test
    void initialTurnsHealthyAfterOneSuccessWhateverTheHealthyThreshold() {
        assertEquals(HEALTHY, m.succeeded(INITIAL, 5));
    }

    @Test
    void initialTurnsUnhealthyAfterUnhealthyThresholdFailures() {
        assertNull(m.failed(INITIAL, 3));
        assertNull(m.failed(INITIAL, 3));
        assertEquals(UNHEALTHY, m.failed(INITIAL, 3));
    }

    @Test
    void healthyTurnsUnhealthyOnlyAfterConsecutiveFailures() {
        assertNull(m.failed(HEALTHY, 2));
        assertNull(m.succeeded(HEALTHY, 5)); // the streak is broken
        assertNull(m.failed(HEALTHY, 2));
        assertEquals(UNHEALTHY, m.failed(HEALTHY, 2));
    }

    @Test
    void unhealthyTurnsHealthyOnlyAfterHealthyThresholdConsecutiveSuccesses() {
        for (int i = 0; i < 4; i++) {
            assertNull(m.succeeded(UNHEALTHY, 5));
        }
        assertNull(m.failed(UNHEALTHY, 2)); // already unhealthy; the streak starts over
        for (int i = 0; i < 4; i++) {
            assertNull(m.succeeded(UNHEALTHY, 5), "success " + (i + 1));
        }
        assertEquals(HEALTHY, m.succeeded(UNHEALTHY, 5));
    }

    @Test
    void thresholdOfOneActsOnTheFirstResult() {
        assertEquals(UNHEALTHY, m.failed(HEALTHY, 1));
        assertEquals(HEALTHY, m.succeeded(UNHEALTHY, 1));
    }

    @Test
    void drainingAndUnusedTargetsNeverMove() {
        for (HealthState s : new HealthState[] {DRAINING, UNUSED}) {
            for (int i = 0; i < 10; i++) {
                assertNull(m.failed(s, 1));
                assertNull(m.succeeded(s, 1));
            }
        }
    }

    @Test
    void healthyTargetStaysHealthyOnSuccess() {
        assertNull(m.succeeded(HEALTHY, 1));
        assertEquals(1, m.consecutiveSuccesses());
        assertEquals(0, m.consecutiveFailures());
    }

    @Test
    void matcherTakesOneCodeRangesAndLists() {
        StatusMatcher one = StatusMatcher.parse("200");
        assertTrue(one.matches(200));
        assertFalse(one.matches(201));

        StatusMatcher range = StatusMatcher.parse("200-299");
        assertTrue(range.matches(200));
        assertTrue(range.matches(250));
        assertTrue(range.matches(299));
        assertFalse(range.matches(300));
        assertFalse(range.matches(199));

        StatusMatcher list = StatusMatcher.parse("200, 302,400-404");
        assertTrue(list.matches(200));
        assertTrue(list.matches(302));
        assertTrue(list.matches(403));
        assertFalse(list.matches(301));
        assertFalse(list.matches(-1));

        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("299-200"));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("ok"));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("99"));
        assertThrows(IllegalArgumentException.class, () -> StatusMatcher.parse("200,"));
    }

    @Test
    void reasonsReadAsTheOperatorExpects() {
        assertEquals("status 500 not in 200", ProbeResult.status(500, StatusMatcher.parse("200")).reason());
        assertFalse(ProbeResult.status(500, StatusMatcher.parse("200")).healthy());
        assertEquals("status 301 not in 200,302", ProbeResult.status(301, StatusMatcher.parse("200,302")).reason());
        assertTrue(ProbeResult.status(204, StatusMatcher.parse("200-299")).healthy());

        assertEquals("timeout after 5s", ProbeResult.timeout(Duration.ofSeconds(5)).reason());
        assertEquals("timeout after 150ms", ProbeResult.timeout(Duration.ofMillis(150)).reason());
        assertEquals("timeout after 1500ms", ProbeResult.timeout(Duration.ofMillis(1500)).reason());
        assertEquals("timeout after 150ms",
                     ProbeResult.of(new ConnectTimeoutException("connection timed out"), Duration.ofMillis(150)).reason());

        assertEquals("connection refused",
                     ProbeResult.of(new ConnectException("Connection refused: /127.0.0.1:1"), Duration.ofSeconds(5))
                                .reason());
    }
}
