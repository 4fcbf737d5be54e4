package fulcrum.proxy;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class HandlerListTest {
    private static BackendHandler handler() {
        return new BackendHandler(null, null);
    }

    private static List<BackendHandler> contents(HandlerList l) {
        List<BackendHandler> out = new ArrayList<>();
        l.forEach(out::add);
        return out;
    }

    @Test
    void mostRecentFirstAndRemovalAnywhere() {
        HandlerList l = new HandlerList();
        BackendHandler a = handler();
        BackendHandler b = handler();
        BackendHandler c = handler();
        l.addFirst(a);
        l.addFirst(b);
        l.addFirst(c);
        assertEquals(List.of(c, b, a), contents(l));
        l.remove(b);
        assertEquals(List.of(c, a), contents(l), "from the middle");
        assertEquals(2, l.size());
        l.remove(b);
        assertEquals(2, l.size(), "a handler not in the list is left alone");
        HandlerList other = new HandlerList();
        other.addFirst(b);
        l.remove(b);
        assertEquals(List.of(b), contents(other), "nor one in another list");
        assertSame(c, l.pollFirst());
        assertSame(a, l.pollFirst());
        assertNull(l.pollFirst());
        assertEquals(0, l.size());
        l.addFirst(c);
        assertEquals(List.of(c), contents(l), "a taken handler can come back");
        l.addFirst(a);
        l.addFirst(c);
        assertEquals(List.of(c, a), contents(l), "added again: moved first, not listed twice");
        assertEquals(2, l.size());
        other.addFirst(a);
        assertEquals(List.of(c), contents(l), "added to another list: gone from this one");
        assertEquals(List.of(a, b), contents(other));
    }

    @Test
    void forEachMayRemoveWhatItIsGivenAndDrainEmpties() {
        HandlerList l = new HandlerList();
        List<BackendHandler> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            BackendHandler h = handler();
            all.add(0, h);
            l.addFirst(h);
        }
        List<BackendHandler> seen = new ArrayList<>();
        l.forEach(h -> {
            seen.add(h);
            if (seen.size() % 2 == 1) {
                l.remove(h);
            }
        });
        assertEquals(all, seen);
        assertEquals(List.of(all.get(1), all.get(3)), contents(l));
        List<BackendHandler> drained = new ArrayList<>();
        l.drain(drained::add);
        assertEquals(List.of(all.get(1), all.get(3)), drained);
        assertEquals(0, l.size());
        assertEquals(List.of(), contents(l));
    }
}
