package fulcrum.balance;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Where Engine.IO sessions are shared between instances (fulcrum.cluster's Redis). Every call
 * returns at once: writes are fire-and-forget, a lookup completes later (null when the session is
 * unknown or the store cannot answer). Called from event loops.
 */
public interface SessionStore {
    /** A single instance's: nothing is shared. */
    SessionStore NONE = new SessionStore() {
        @Override
        public boolean shared() {
            return false;
        }

        @Override
        public Duration lookupTimeout() {
            return Duration.ZERO;
        }

        @Override
        public void put(String group, String sid, String targetId, long idleMs) {
        }

        @Override
        public void remove(String group, String sid) {
        }

        @Override
        public CompletionStage<Shared> lookup(String group, String sid) {
            return CompletableFuture.completedFuture(null);
        }
    };

    /** A session as the store has it: its target's id and how long it lives once idle. */
    record Shared(String targetId, long idleMs) {
    }

    boolean shared();

    /** How long a request may wait for {@link #lookup}. */
    Duration lookupTimeout();

    /** A session learnt, or still in use, here: it lives {@code idleMs} from now. */
    void put(String group, String sid, String targetId, long idleMs);

    /** The session's target no longer knows it. */
    void remove(String group, String sid);

    CompletionStage<Shared> lookup(String group, String sid);

    /** A request stopped waiting for a {@link #lookup}: counted, the answer comes too late. */
    default void lookupTimedOut() {
    }
}
