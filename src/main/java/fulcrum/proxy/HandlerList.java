package fulcrum.proxy;

import java.util.function.Consumer;

/**
 * A pool's connections to one target in one state (idle, or busy), linked through the handlers
 * themselves: adding, taking and removing cost no node object and no hashing, whatever the
 * pool's size (thousands of busy connections under long-polling). A handler is in one list at
 * most, since a connection is either idle or busy.
 */
final class HandlerList {
    private BackendHandler head;
    private int size;

    int size() {
        return size;
    }

    /** Puts {@code b} first, taking it out of the list it was in (a list never holds one twice). */
    void addFirst(BackendHandler b) {
        leave(b);
        b.poolList = this;
        b.poolPrev = null;
        b.poolNext = head;
        if (head != null) {
            head.poolPrev = b;
        }
        head = b;
        size++;
    }

    /** The most recently added handler, taken out; null when empty. */
    BackendHandler pollFirst() {
        BackendHandler b = head;
        if (b != null) {
            remove(b);
        }
        return b;
    }

    /** Takes {@code b} out, if it is in this list. */
    void remove(BackendHandler b) {
        if (b.poolList != this) {
            return;
        }
        if (b.poolPrev != null) {
            b.poolPrev.poolNext = b.poolNext;
        } else {
            head = b.poolNext;
        }
        if (b.poolNext != null) {
            b.poolNext.poolPrev = b.poolPrev;
        }
        b.poolList = null;
        b.poolPrev = null;
        b.poolNext = null;
        size--;
    }

    /** Takes {@code b} out of whichever list it is in, if any. */
    static void leave(BackendHandler b) {
        if (b.poolList != null) {
            b.poolList.remove(b);
        }
    }

    /** Each handler from the most recent; {@code action} may remove the one it is given. */
    void forEach(Consumer<BackendHandler> action) {
        BackendHandler b = head;
        while (b != null) {
            BackendHandler next = b.poolNext;
            action.accept(b);
            b = next;
        }
    }

    /** Takes every handler out, giving each to {@code action}. */
    void drain(Consumer<BackendHandler> action) {
        BackendHandler b;
        while ((b = pollFirst()) != null) {
            action.accept(b);
        }
    }
}
