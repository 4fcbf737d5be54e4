package fulcrum.config;

/** The access log: one line per request and per closed tunnel. {@code file} null: standard output. */
public record AccessLogSettings(boolean enabled, Format format, String file, int queueSize) {

    /** ALB: AWS's access log entry syntax; TEXT: the same (its older name); JSON: ALB's fields as an object. */
    public enum Format { ALB, TEXT, JSON }

    static AccessLogSettings from(Reader r) {
        return new AccessLogSettings(r.bool("enabled"), r.enumeration("format", Format.class),
                                     r.optionalString("file"), r.integer("queue-size", 16, 1 << 20));
    }
}
