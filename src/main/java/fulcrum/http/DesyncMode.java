package fulcrum.http;

/** What the decoder does with each {@link DesyncClass}, as ALB's desync mitigation modes. */
public enum DesyncMode {
    /**
     * Forwards everything that can be framed, only recording the class; rejects what has no
     * reliable message boundary, because forwarding that would be guessing.
     */
    MONITOR,
    /** Rejects {@link DesyncClass#SEVERE}; forwards {@link DesyncClass#AMBIGUOUS} and closes after it. */
    DEFENSIVE,
    /** Forwards only {@link DesyncClass#COMPLIANT} requests, as ALB's strictest mode. */
    STRICTEST;

    boolean rejects(DesyncClass desyncClass) {
        return switch (this) {
            case MONITOR -> false;
            case DEFENSIVE -> desyncClass == DesyncClass.SEVERE;
            case STRICTEST -> desyncClass != DesyncClass.COMPLIANT;
        };
    }

    /**
     * Whether a forwarded request of this class must end its connection. MONITOR only records,
     * as ALB's monitor mode does; requests RFC 9112 itself says to close after are closed by the
     * decoder whatever the mode.
     */
    boolean closesAfter(DesyncClass desyncClass) {
        return this != MONITOR && desyncClass.compareTo(DesyncClass.AMBIGUOUS) >= 0;
    }
}
