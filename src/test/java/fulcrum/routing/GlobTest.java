package fulcrum.routing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GlobTest {

    @Test
    void wildcards() {
        assertTrue(Glob.compile("/api/*", false).matches("/api/"));
        assertTrue(Glob.compile("/api/*", false).matches("/api/v1/users"));
        assertFalse(Glob.compile("/api/*", false).matches("/api"));
        assertTrue(Glob.compile("*.example.com", true).matches("A.B.Example.COM"));
        assertFalse(Glob.compile("*.example.com", true).matches("example.com"));
        assertTrue(Glob.compile("a?c", false).matches("abc"));
        assertFalse(Glob.compile("a?c", false).matches("ac"));
        assertTrue(Glob.compile("*a*b*c*", false).matches("xxaxxbxxcxx"));
        assertFalse(Glob.compile("*a*b*c", false).matches("xxaxxbxxcxx"));
        assertTrue(Glob.compile("*", false).matches(""));
        assertFalse(Glob.compile("/x", false).matches("/X"));
    }

    @Test
    void matchesARegionWithoutCopying() {
        String uri = "/socket.io/?EIO=4";
        assertTrue(Glob.compile("/socket.io/*", false).matches(uri, 0, uri.indexOf('?')));
        assertFalse(Glob.compile("*EIO*", false).matches(uri, 0, uri.indexOf('?')));
    }
}
