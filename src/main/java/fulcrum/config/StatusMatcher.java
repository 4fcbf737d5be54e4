package fulcrum.config;

import java.util.BitSet;

/**
 * Which status codes count as a healthy answer: HTTP codes ("200", "200-299", "200,302") or, for
 * gRPC, grpc-status codes ("0", "0-99", "0,12": ALB's range).
 */
public final class StatusMatcher {
    private final BitSet codes;
    private final String text;

    private StatusMatcher(BitSet codes, String text) {
        this.codes = codes;
        this.text = text;
    }

    /** HTTP status codes, 100 to 599. */
    public static StatusMatcher parse(String text) {
        return parse(text, 100, 599, "status code");
    }

    /** grpc-status codes, 0 to 99 (the range ALB accepts; gRPC defines 0 to 16). */
    public static StatusMatcher grpc(String text) {
        return parse(text, 0, 99, "grpc-status code");
    }

    private static StatusMatcher parse(String text, int min, int max, String what) {
        BitSet codes = new BitSet(max + 1);
        for (String part : text.split(",", -1)) {
            String p = part.trim();
            int dash = p.indexOf('-');
            int from = code(dash < 0 ? p : p.substring(0, dash), min, max, what);
            int to = dash < 0 ? from : code(p.substring(dash + 1), min, max, what);
            if (to < from) {
                throw new IllegalArgumentException("range " + p + " runs backwards");
            }
            codes.set(from, to + 1);
        }
        return new StatusMatcher(codes, text);
    }

    private static int code(String s, int min, int max, String what) {
        try {
            int c = Integer.parseInt(s.trim());
            if (c >= min && c <= max) {
                return c;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("'" + s + "' is not a " + what + " from " + min + " to " + max);
    }

    public boolean matches(int status) {
        return status >= 0 && codes.get(status);
    }

    /** Equal when the same codes match, so that a reload sees an unchanged matcher as unchanged. */
    @Override
    public boolean equals(Object o) {
        return o instanceof StatusMatcher m && m.codes.equals(codes);
    }

    @Override
    public int hashCode() {
        return codes.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}
