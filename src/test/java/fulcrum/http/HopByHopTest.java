package fulcrum.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class HopByHopTest {
    @Test
    void theTableAndWhatConnectionNamesAreStripped() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("Connection", "keep-alive, X-Hop ,, upgrade")
                .add("connection", "close,\tX-Other")
                .add("Keep-Alive", "timeout=5").add("Proxy-Connection", "keep-alive").add("TE", "trailers")
                .add("Trailer", "X-Sum").add("Proxy-Authenticate", "Basic").add("Upgrade", "websocket")
                .add("X-Hop", "1").add("x-other", "2").add("X-End-To-End", "3")
                .add("Transfer-Encoding", "chunked");
        HopByHop.strip(h, false);
        assertEquals(List.of("Transfer-Encoding", "X-End-To-End"), h.names().stream().sorted().toList());
    }

    @Test
    void switchingKeepsUpgrade() {
        HttpHeaders h = new DefaultHttpHeaders().add("Connection", "Upgrade, X-Hop").add("Upgrade", "websocket")
                .add("X-Hop", "1");
        HopByHop.strip(h, true);
        assertEquals("websocket", h.get("Upgrade"));
        assertFalse(h.contains("Connection"));
        assertFalse(h.contains("X-Hop"));
    }

    @Test
    void keepAliveAndCloseNameNothing() {
        assertNull(HopByHop.namedFields("keep-alive", false, null));
        assertNull(HopByHop.namedFields(" Close , ,keep-alive ", false, null));
        assertNull(HopByHop.namedFields("upgrade", true, null));
        assertEquals(List.of("upgrade"), HopByHop.namedFields("upgrade", false, null));
        assertEquals(List.of("a b", "c"), HopByHop.namedFields("a b,\tc\t", false, null));
        assertFalse(HopByHop.namesFields("keep-alive, close"));
        assertFalse(HopByHop.namesFields(" , "));
        assertTrue(HopByHop.namesFields("close, X-A"));
    }

    @Test
    void namesMatchesAFieldNameGivenAsBytesCaseInsensitively() {
        byte[] h = "xx X-Hop: 1".getBytes(StandardCharsets.US_ASCII);
        assertTrue(HopByHop.names("keep-alive, x-hop", h, 3, 8));
        assertTrue(HopByHop.names("X-HOP", h, 3, 8));
        assertFalse(HopByHop.names("x-ho, x-hops", h, 3, 8));
        assertFalse(HopByHop.names("x~hop", "x^hop".getBytes(StandardCharsets.US_ASCII), 0, 5));
    }
}
