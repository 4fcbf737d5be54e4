package fulcrum.admin;

/** A request the admin API refuses: its HTTP status and what was wrong, for the JSON error. */
public final class AdminException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    AdminException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
