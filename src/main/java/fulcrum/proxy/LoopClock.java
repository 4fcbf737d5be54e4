package fulcrum.proxy;

/**
 * The time as the code of one event loop reads it. An exchange reads the clock about ten times
 * (its start, the lease, the send, the response timer, the response, its end, the connection's
 * release), each a clock_gettime, and most fall in the same callback, microseconds apart. A read
 * callback freezes the clock: every reading inside it is the callback's start. Outside a frozen
 * callback (timers, connect completions) a reading is the real time.
 */
final class LoopClock {
    /** The frozen callback's System.nanoTime(); 0 when not frozen. */
    private long nanos;
    /** Its System.currentTimeMillis(), read at the first asking; 0 until then. */
    private long millis;

    /** System.nanoTime(), or the frozen callback's; never 0 (0 marks "not yet" in exchanges). */
    long nanos() {
        return nanos != 0 ? nanos : nonZero(System.nanoTime());
    }

    /** System.currentTimeMillis(), read once per frozen callback. */
    long millis() {
        if (nanos == 0) {
            return System.currentTimeMillis();
        }
        if (millis == 0) {
            millis = System.currentTimeMillis();
        }
        return millis;
    }

    /**
     * Freezes the clock for a callback; false when it already is (a callback nested in another
     * keeps the outer one's time, and must not thaw it).
     */
    boolean freeze() {
        if (nanos != 0) {
            return false;
        }
        nanos = nonZero(System.nanoTime());
        return true;
    }

    void thaw() {
        nanos = 0;
        millis = 0;
    }

    private static long nonZero(long t) {
        return t != 0 ? t : 1;
    }
}
