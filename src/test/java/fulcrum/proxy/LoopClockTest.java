package fulcrum.proxy;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoopClockTest {
    @Test
    void frozenInsideACallbackAndRealOutside() throws InterruptedException {
        LoopClock c = new LoopClock();
        assertTrue(c.freeze());
        long t = c.nanos();
        long m = c.millis();
        Thread.sleep(20);
        assertEquals(t, c.nanos(), "one reading for the whole callback");
        assertEquals(m, c.millis());
        assertFalse(c.freeze(), "a nested callback keeps the outer one's time");
        assertEquals(t, c.nanos());
        c.thaw();
        long after = c.nanos();
        assertTrue(after - t >= 20_000_000L, "thawed: the real time again, " + (after - t) + " ns later");
        assertTrue(c.millis() - m >= 20, "and the real wall time");
        Thread.sleep(5);
        assertTrue(c.nanos() - after >= 5_000_000L, "unfrozen, every reading is fresh");
        assertTrue(c.freeze(), "the next callback freezes it anew");
        assertTrue(c.nanos() - after >= 5_000_000L);
        assertTrue(c.millis() - m >= 25, "its wall time read anew too");
        c.thaw();
    }
}
