package fulcrum.server;

import fulcrum.config.FulcrumSettings;
import fulcrum.config.SettingsException;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.WsEchoBackend;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every transport carries the same traffic: requests both ways, large bodies, a WebSocket tunnel. */
class TransportTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static String config(String transport, String... targets) {
        return "fulcrum { io-threads = 2, shutdown-grace = 1s, transport = " + transport + "\n"
               + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
               + "target-groups.app { health-check.enabled = false, targets = [\"" + String.join("\", \"", targets)
               + "\"] } }";
    }

    /** What {@code auto} must choose on this machine. */
    private static String expectedAuto() {
        return IoUring.isAvailable() && IoUring.isRegisterBufferRingSupported() ? "io_uring"
               : Epoll.isAvailable() ? "epoll" : "nio";
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "io-uring", "epoll", "nio"})
    void proxiesRequestsBodiesAndTunnels(String transport) throws Exception {
        // A native transport named here must work: the CI machine is Linux with both.
        if (transport.equals("io-uring")) {
            assertTrue(IoUring.isAvailable(), "io_uring unavailable: " + IoUring.unavailabilityCause());
        } else if (transport.equals("epoll")) {
            assertTrue(Epoll.isAvailable(), "epoll unavailable: " + Epoll.unavailabilityCause());
        }
        try (HttpBackend a = HttpBackend.start("a");
             HttpBackend b = HttpBackend.start("b");
             FulcrumFixture lb = FulcrumFixture.start(config(transport, a.address(), b.address()))) {
            String expected = transport.equals("auto") ? expectedAuto() : transport.replace('-', '_');
            assertEquals(expected, lb.balancer().transport().name());

            Set<String> served = new HashSet<>();
            for (int i = 0; i < 4; i++) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(lb.url("/"))).build(),
                                                   HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
                served.add(r.body());
            }
            assertEquals(2, served.size(), "round-robin over both targets: " + served);

            byte[] body = new byte[3 * 1024 * 1024 + 17];
            new java.util.Random(11).nextBytes(body);
            long hash = 0;
            for (byte x : body) {
                hash = hash * 31 + x;
            }
            HttpResponse<String> up = http.send(HttpRequest.newBuilder(URI.create(lb.url("/sink")))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, up.statusCode());
            assertEquals(body.length + " " + hash, up.body());

            HttpResponse<byte[]> down = http.send(HttpRequest.newBuilder(URI.create(lb.url("/big?bytes=5000000")))
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, down.statusCode());
            assertEquals(5_000_000, down.body().length);
        }
        try (WsEchoBackend ws = new WsEchoBackend("ws1");
             FulcrumFixture lb = FulcrumFixture.start(config(transport, ws.address()))) {
            CompletableFuture<String> echoed = new CompletableFuture<>();
            StringBuilder seen = new StringBuilder();
            WebSocket socket = http.newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + lb.port() + "/ws"), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                            seen.append(data).append('|');
                            if (data.toString().equals("over " + transport)) {
                                echoed.complete(seen.toString());
                            }
                            w.request(1);
                            return null;
                        }
                    }).get(10, TimeUnit.SECONDS);
            socket.sendText("over " + transport, true).get(5, TimeUnit.SECONDS);
            assertEquals("hello from ws1|over " + transport + "|", echoed.get(10, TimeUnit.SECONDS));
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void autoFallsBackFromIoUringToEpollToNio() {
        assertEquals("epoll", Transport.choose(FulcrumSettings.TransportKind.IO_URING).fallback().name());
        assertEquals("nio", Transport.choose(FulcrumSettings.TransportKind.EPOLL).fallback().name());
        assertEquals("nio", Transport.choose(FulcrumSettings.TransportKind.NIO).fallback().name());
    }

    @Test
    void anUnknownTransportIsRefusedByName() {
        SettingsException e = assertThrows(SettingsException.class, () -> FulcrumSettings.from(
                com.typesafe.config.ConfigFactory.parseString(config("kqueue", "127.0.0.1:1"))));
        assertTrue(e.getMessage().contains("fulcrum.transport: kqueue (expected: one of auto, io-uring, epoll, nio)"),
                   e.getMessage());
    }
}
