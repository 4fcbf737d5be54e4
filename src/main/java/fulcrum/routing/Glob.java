package fulcrum.routing;

import java.util.Locale;

/**
 * A pattern with {@code *} (any run of characters, empty included) and {@code ?} (one character),
 * compiled once and matched against a region of a string without copying it. Matching is
 * linear in practice: a mismatch after a star retries from one character further, never deeper.
 */
final class Glob {
    private final String pattern;
    private final boolean ignoreCase;

    private Glob(String pattern, boolean ignoreCase) {
        this.pattern = pattern;
        this.ignoreCase = ignoreCase;
    }

    static Glob compile(String pattern, boolean ignoreCase) {
        return new Glob(ignoreCase ? pattern.toLowerCase(Locale.ROOT) : pattern, ignoreCase);
    }

    boolean matches(CharSequence s) {
        return matches(s, 0, s.length());
    }

    /** Whether {@code s[from, to)} matches the whole pattern. */
    boolean matches(CharSequence s, int from, int to) {
        int n = pattern.length();
        int p = 0;
        int i = from;
        int starP = -1;
        int starI = 0;
        while (i < to) {
            if (p < n) {
                char pc = pattern.charAt(p);
                if (pc == '*') {
                    starP = p++;
                    starI = i;
                    continue;
                }
                if (pc == '?' || pc == fold(s.charAt(i))) {
                    p++;
                    i++;
                    continue;
                }
            }
            if (starP < 0) {
                return false;
            }
            p = starP + 1;
            i = ++starI;
        }
        while (p < n && pattern.charAt(p) == '*') {
            p++;
        }
        return p == n;
    }

    private char fold(char c) {
        if (!ignoreCase) {
            return c;
        }
        if (c < 0x80) {
            return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
        }
        return Character.toLowerCase(c);
    }

    @Override
    public String toString() {
        return pattern;
    }
}
