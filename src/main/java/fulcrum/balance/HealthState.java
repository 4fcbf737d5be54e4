package fulcrum.balance;

import java.util.Locale;

/** Where a target stands, as ALB names it. */
public enum HealthState {
    /** Registered, not yet proven by a health check. */
    INITIAL,
    HEALTHY,
    UNHEALTHY,
    /** Deregistered: keeps in-flight work until the deregistration delay ends, gets nothing new. */
    DRAINING,
    /** Health checks are disabled for the group: every target takes traffic. */
    UNUSED;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
