package fulcrum.routing;

/** A compiled listener rule: its conditions, all of which must hold, and its action. */
record Rule(int priority, Condition[] conditions, Action action) {

    boolean matches(RequestFacts r) {
        for (Condition c : conditions) {
            if (!c.test(r)) {
                return false;
            }
        }
        return true;
    }
}
