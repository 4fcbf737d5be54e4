package fulcrum.config;

/** The access log: one line per request and per closed tunnel. {@code file} null: standard output. */
public record AccessLogSettings(boolean enabled, Format format, String file, int queueSize) {

    public enum Format { TEXT, JSON }

    static AccessLogSettings from(Reader r) {
        return new AccessLogSettings(r.bool("enabled"), r.enumeration("format", Format.class),
                                     r.optionalString("file"), r.integer("queue-size", 16, 1 << 20));
    }
}
