package fulcrum.server;

import java.util.Locale;

/**
 * A listening socket that could not be opened, said in one line that names what and where, and
 * why in words an operator acts on ("address already in use"), not the socket call's.
 */
public final class BindException extends IllegalStateException {
    private static final long serialVersionUID = 1L;
    private final boolean inUse;

    private BindException(String message, boolean inUse, Throwable cause) {
        super(message, cause);
        this.inUse = inUse;
    }

    /** {@code what} ("listener web", "admin API") could not bind {@code where}, for {@code cause}. */
    public static BindException of(String what, Object where, Throwable cause) {
        String said = String.valueOf(rootMessage(cause)).toLowerCase(Locale.ROOT);
        boolean inUse = said.contains("already in use");
        String why;
        if (inUse) {
            why = "address already in use (another process listens there: another Fulcrum?)";
        } else if (said.contains("permission denied") || said.contains("access denied")
                   || said.contains("not permitted")) {
            why = "not permitted (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
        } else if (said.contains("cannot assign requested address")) {
            why = "no network interface of this host has that address";
        } else {
            why = rootMessage(cause);
        }
        return new BindException(what + ": cannot listen on " + where + ": " + why, inUse, cause);
    }

    /** Whether another socket holds the address. */
    public boolean inUse() {
        return inUse;
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        String m = c.getMessage();
        return m != null ? m : c.getClass().getSimpleName();
    }
}
