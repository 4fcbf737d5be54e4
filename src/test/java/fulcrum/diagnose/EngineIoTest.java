package fulcrum.diagnose;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EngineIoTest {
    @Test
    void version4PayloadsAreSeparatedByRecordSeparators() {
        EngineIo v4 = new EngineIo(4);
        assertEquals("40\u001e6", v4.encode("40", "6"));
        assertEquals(List.of("40{\"sid\":\"a\"}", "2"), v4.decode("40{\"sid\":\"a\"}\u001e2"));
    }

    @Test
    void version3PayloadsArePrefixedWithTheirLength() {
        EngineIo v3 = new EngineIo(3);
        assertEquals("1:2", v3.encode("2"));
        assertEquals(List.of("0{\"sid\":\"x\"}", "40"), v3.decode("12:0{\"sid\":\"x\"}2:40"));
        assertThrows(IllegalArgumentException.class, () -> v3.decode("ok"));
    }

    @Test
    void theOpenPacketGivesSidPingsAndUpgrades() {
        EngineIo.Open o = EngineIo.open("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                                        + "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
        assertEquals(new EngineIo.Open("lv_VI97HAXpY6yYWAAAC", 25000, 20000, List.of("websocket")), o);
        assertNull(EngineIo.open("40"));
    }

    @Test
    void theUrlsPathIsTheSocketIoPathUnlessGiven() {
        assertEquals("/socket.io/", Endpoint.parse("http://h", null).path());
        assertEquals("/chat/socket.io/", Endpoint.parse("https://h/chat/socket.io", null).path());
        assertEquals("/x/", Endpoint.parse("wss://h/chat/", "/x").path());
        assertEquals("h:8443", Endpoint.parse("https://h:8443/", null).authority());
        assertEquals("[::1]:80", Endpoint.parse("https://[::1]:80/", null).authority());
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("http://h/?EIO=4", null));
    }
}
