package fulcrum.cluster;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OverlayEntryTest {
    @Test
    void anEntryReadsBackAsWritten() {
        OverlayEntry e = new OverlayEntry("chat", "[::1]:3000", OverlayEntry.Op.REGISTER, 7, 1_700_000_000_123L,
                                          "pod a-1");
        assertEquals("chat/[::1]:3000", e.field());
        assertEquals("1700000000123 register 7 pod a-1", e.value());
        assertEquals(e, OverlayEntry.parse(e.field(), e.value()));
    }

    @Test
    void malformedEntriesAreNone() {
        assertNull(OverlayEntry.parse("chat", "1 register 1 a"));
        assertNull(OverlayEntry.parse("/10.0.0.1:80", "1 register 1 a"));
        assertNull(OverlayEntry.parse("chat/10.0.0.1:80", "1 drain 1 a"));
        assertNull(OverlayEntry.parse("chat/10.0.0.1:80", "x register 1 a"));
        assertNull(OverlayEntry.parse("chat/10.0.0.1:80", "1 register"));
    }

    @Test
    void theLaterChangeWinsAndTiesGoToOneInstanceEverywhere() {
        OverlayEntry early = new OverlayEntry("g", "t:1", OverlayEntry.Op.REGISTER, 1, 100, "B");
        OverlayEntry late = new OverlayEntry("g", "t:1", OverlayEntry.Op.DEREGISTER, 1, 101, "A");
        OverlayEntry tie = new OverlayEntry("g", "t:1", OverlayEntry.Op.DEREGISTER, 1, 100, "A");
        assertTrue(late.newerThan(early));
        assertFalse(early.newerThan(late));
        assertTrue(early.newerThan(tie));
        assertFalse(tie.newerThan(early));
    }
}
