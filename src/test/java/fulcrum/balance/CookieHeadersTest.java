package fulcrum.balance;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CookieHeadersTest {

    @Test
    void removesThePairWhereverItIs() {
        assertEquals("", CookieHeaders.without("FULCRUM=abc", "FULCRUM"), "the only cookie");
        assertEquals("a=1", CookieHeaders.without("FULCRUM=abc; a=1", "FULCRUM"), "first");
        assertEquals("a=1; b=2", CookieHeaders.without("a=1; FULCRUM=abc; b=2", "FULCRUM"), "middle");
        assertEquals("a=1", CookieHeaders.without("a=1; FULCRUM=abc", "FULCRUM"), "last");
        assertEquals("a=1;b=2", CookieHeaders.without("a=1;FULCRUM=abc;b=2", "FULCRUM"), "no spaces");
        assertEquals("a=1;  b=\"x y\"", CookieHeaders.without("a=1;  FULCRUM=abc;  b=\"x y\"", "FULCRUM"),
                     "the other pairs and their separators stay byte for byte");
        assertEquals("a=1", CookieHeaders.without("FULCRUM=x; FULCRUM=y; a=1", "FULCRUM"), "twice, first");
        assertEquals("a=1; b=2", CookieHeaders.without("a=1; FULCRUM=x; b=2; FULCRUM=y", "FULCRUM"), "twice");
        assertEquals("", CookieHeaders.without("FULCRUM=x;FULCRUM=y", "FULCRUM"), "nothing else");
        assertEquals("a=1", CookieHeaders.without("FULCRUM=; a=1", "FULCRUM"), "an empty value is still the pair");
        assertEquals("a=1;", CookieHeaders.without("a=1; FULCRUM=x;", "FULCRUM"), "a trailing ';' stays");
    }

    @Test
    void leavesOtherNamesAlone() {
        for (String field : new String[] {"FULCRUMX=1", "XFULCRUM=1", "FULCRUM-TG=1; a=FULCRUM=2", "fulcrum=1",
                                          "a=1; FULCRUM", "io=abc; b=FULCRUM"}) {
            assertSame(field, CookieHeaders.without(field, "FULCRUM"), field);
        }
        assertEquals("FULCRUM-TG=1; FULCRUMX=2", CookieHeaders.without("FULCRUM-TG=1; FULCRUM=a; FULCRUMX=2", "FULCRUM"),
                     "a name that is a prefix of another: only the exact one");
        assertEquals("FULCRUM=a", CookieHeaders.without("FULCRUM-TG=1; FULCRUM=a", "FULCRUM-TG"));
    }

    @Test
    void stripsEveryCookieFieldAndDropsEmptyOnes() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add(HttpHeaderNames.HOST, "x")
                .add(HttpHeaderNames.COOKIE, "FULCRUM=abc")
                .add("X-Other", "FULCRUM=abc")
                .add(HttpHeaderNames.COOKIE, "io=sid1; FULCRUM=abc")
                .add(HttpHeaderNames.COOKIE, "theme=dark");
        assertTrue(CookieHeaders.stripCookie(h, "FULCRUM"));
        assertEquals(List.of("io=sid1", "theme=dark"), h.getAll(HttpHeaderNames.COOKIE));
        assertEquals("FULCRUM=abc", h.get("X-Other"), "only Cookie fields");
        assertEquals("x", h.get(HttpHeaderNames.HOST));
        assertFalse(CookieHeaders.stripCookie(h, "FULCRUM"), "nothing left to strip");
        assertEquals(List.of("io=sid1", "theme=dark"), h.getAll(HttpHeaderNames.COOKIE));

        HttpHeaders only = new DefaultHttpHeaders().add(HttpHeaderNames.COOKIE, "FULCRUM=abc");
        assertTrue(CookieHeaders.stripCookie(only, "FULCRUM"));
        assertFalse(only.contains(HttpHeaderNames.COOKIE), "an emptied field goes");

        HttpHeaders lookalike = new DefaultHttpHeaders().add(HttpHeaderNames.COOKIE, "FULCRUMX=1; XFULCRUM=2");
        assertFalse(CookieHeaders.stripCookie(lookalike, "FULCRUM"));
        assertEquals(List.of("FULCRUMX=1; XFULCRUM=2"), lookalike.getAll(HttpHeaderNames.COOKIE));

        HttpHeaders none = new DefaultHttpHeaders().add(HttpHeaderNames.HOST, "x");
        assertFalse(CookieHeaders.stripCookie(none, "FULCRUM"));
        assertEquals(1, none.size());
    }
}
