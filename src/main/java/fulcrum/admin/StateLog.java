package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The last {@link #KEPT} changes of targets (health state, registration, removal), newest first,
 * for the dashboard and {@code GET /state-changes}. Told by every group, on whatever thread
 * changed it; changes are rare, so a lock is enough.
 */
final class StateLog implements TargetGroup.Listener {
    static final int KEPT = 100;

    /** One change; {@code from} is "" for a registration, {@code to} is "removed" for a removal. */
    record Change(Instant time, String group, String target, String from, String to, String reason) {
    }

    private final ArrayDeque<Change> changes = new ArrayDeque<>(KEPT);

    @Override
    public void stateChanged(TargetGroup group, Target target, HealthState from, HealthState to, String reason) {
        add(new Change(Instant.now(), group.name(), target.id(), from.label(), to.label(), reason));
    }

    @Override
    public void membershipChanged(TargetGroup group, Target target, boolean added, String reason) {
        add(new Change(Instant.now(), group.name(), target.id(), added ? "" : target.state().label(),
                       added ? target.state().label() : "removed", reason));
    }

    private synchronized void add(Change c) {
        if (changes.size() == KEPT) {
            changes.removeLast();
        }
        changes.addFirst(c);
    }

    /** The changes kept, newest first. */
    synchronized List<Change> recent() {
        return new ArrayList<>(changes);
    }
}
