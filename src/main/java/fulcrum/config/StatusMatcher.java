package fulcrum.config;

import java.util.BitSet;

/** Which HTTP status codes count as a healthy answer: "200", "200-299", "200,302". */
public final class StatusMatcher {
    private final BitSet codes;
    private final String text;

    private StatusMatcher(BitSet codes, String text) {
        this.codes = codes;
        this.text = text;
    }

    public static StatusMatcher parse(String text) {
        BitSet codes = new BitSet(600);
        for (String part : text.split(",", -1)) {
            String p = part.trim();
            int dash = p.indexOf('-');
            int from = code(dash < 0 ? p : p.substring(0, dash));
            int to = dash < 0 ? from : code(p.substring(dash + 1));
            if (to < from) {
                throw new IllegalArgumentException("range " + p + " runs backwards");
            }
            codes.set(from, to + 1);
        }
        return new StatusMatcher(codes, text);
    }

    private static int code(String s) {
        try {
            int c = Integer.parseInt(s.trim());
            if (c >= 100 && c <= 599) {
                return c;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("'" + s + "' is not a status code from 100 to 599");
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
