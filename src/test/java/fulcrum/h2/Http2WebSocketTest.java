package fulcrum.h2;

import fulcrum.proxy.ExchangeObserver;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.WsEchoBackend;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WebSocket over HTTP/2 (RFC 8441) at the frame level: an extended CONNECT becomes an HTTP/1.1
 * upgrade to the target, its 101 the stream's 200, and the stream's DATA then carries the
 * WebSocket both ways, with flow control as backpressure, resets and ends passed on both ways,
 * and the refusals RFC 9113 and RFC 8441 ask for.
 */
@Timeout(120)
class Http2WebSocketTest {
    private static final String SETTINGS_ENABLE_CONNECT_PROTOCOL = "8";
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<ExchangeObserver.TunnelRecord> tunnels = new CopyOnWriteArrayList<>();
    private final List<ExchangeObserver.ExchangeRecord> exchanges = new CopyOnWriteArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private <T extends AutoCloseable> T keep(T t) {
        open.add(t);
        return t;
    }

    private FulcrumFixture balancer(String target, String listenerExtra) {
        FulcrumFixture lb = keep(FulcrumFixture.start(
                "fulcrum { io-threads = 1, shutdown-grace = 1s\n"
                + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app " + listenerExtra + " }]\n"
                + "target-groups.app { targets = [\"" + target + "\"], health-check.enabled = false } }"));
        lb.balancer().listenerContexts().get(0).observer(new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                exchanges.add(r);
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
                tunnels.add(r);
            }

            @Override
            public boolean recordsRequests() {
                return true;
            }
        });
        return lb;
    }

    private static Http2Headers connect(int port, String path) {
        return new DefaultHttp2Headers().method("CONNECT").set(":protocol", "websocket").scheme("http").path(path)
                .authority("127.0.0.1:" + port).add("sec-websocket-version", "13").add("origin", "http://127.0.0.1");
    }

    /** A client's (masked) WebSocket frame. */
    private static byte[] clientFrame(int opcode, byte[] payload) {
        byte[] mask = {0x11, 0x22, 0x33, 0x44};
        byte[] f = new byte[6 + payload.length];
        f[0] = (byte) (0x80 | opcode);
        f[1] = (byte) (0x80 | payload.length); // short payloads only
        System.arraycopy(mask, 0, f, 2, 4);
        for (int i = 0; i < payload.length; i++) {
            f[6 + i] = (byte) (payload[i] ^ mask[i % 4]);
        }
        return f;
    }

    /** A server's (unmasked) short text frame. */
    private static byte[] serverText(String text) {
        byte[] p = text.getBytes(StandardCharsets.UTF_8);
        byte[] f = new byte[2 + p.length];
        f[0] = (byte) 0x81;
        f[1] = (byte) p.length;
        System.arraycopy(p, 0, f, 2, p.length);
        return f;
    }

    private static byte[] dataOf(List<Frame> frames, int stream) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Frame f : frames) {
            if (f.stream() == stream && f.type().equals("DATA")) {
                out.writeBytes(f.data());
            }
        }
        return out.toByteArray();
    }

    private static Frame headersOf(List<Frame> frames, int stream) {
        return frames.stream().filter(f -> f.stream() == stream && f.type().equals("HEADERS")).findFirst().orElse(null);
    }

    /** Reads until the stream's DATA so far holds {@code expected}, at most 10 s. */
    private static List<Frame> readUntilData(H2Wire c, int stream, byte[] expected) throws IOException {
        List<Frame> all = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < deadline) {
            all.addAll(c.read(f -> f.stream() == stream && f.type().equals("DATA"), 500));
            if (java.util.Arrays.equals(dataOf(all, stream), expected)) {
                return all;
            }
        }
        throw new AssertionError("stream " + stream + " did not carry " + new String(expected, StandardCharsets.UTF_8)
                                 + ": " + all);
    }

    private void awaitTunnels(int n) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (tunnels.size() < n && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(n, tunnels.size(), "tunnel records: " + tunnels);
    }

    @Test
    void aWebSocketOverAStreamEchoesBothWaysAndEndsEitherWay() throws Exception {
        WsEchoBackend backend = keep(new WsEchoBackend("w1"));
        FulcrumFixture lb = balancer(backend.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            Frame settings = c.read(f -> f.type().equals("SETTINGS"), 5_000).stream()
                    .filter(f -> f.type().equals("SETTINGS")).findFirst().orElseThrow();
            assertEquals("1", String.valueOf(settings.headers().get(SETTINGS_ENABLE_CONNECT_PROTOCOL)),
                         "SETTINGS_ENABLE_CONNECT_PROTOCOL advertised: " + settings.headers());

            c.headers(1, connect(lb.port(), "/ws"), false).flush();
            List<Frame> got = readUntilData(c, 1, serverText("hello from w1"));
            Frame head = headersOf(got, 1);
            assertEquals(200, head.status(), got.toString());
            assertFalse(head.endStream(), "the stream stays open for the WebSocket");
            assertNull(head.headers().get("sec-websocket-accept"), "the answer to Fulcrum's key stays behind");

            c.data(1, clientFrame(1, "over h2".getBytes(StandardCharsets.UTF_8)), false).flush();
            readUntilData(c, 1, serverText("over h2"));

            // A second WebSocket on the same connection, beside the first.
            c.headers(3, connect(lb.port(), "/ws"), false).flush();
            readUntilData(c, 3, serverText("hello from w1"));
            assertEquals(2, backend.connections(), "one backend connection per WebSocket");

            // The client closes the first (close frame): the target answers it and closes, so the stream ends.
            c.data(1, clientFrame(8, new byte[]{0x03, (byte) 0xe8}), false).flush();
            List<Frame> end = c.read(f -> f.stream() == 1 && (f.type().equals("RST_STREAM")), 10_000);
            int endIndex = -1;
            for (int i = 0; i < end.size(); i++) {
                if (end.get(i).stream() == 1 && end.get(i).endStream() && end.get(i).type().equals("DATA")) {
                    endIndex = i;
                }
            }
            assertTrue(endIndex >= 0, "END_STREAM after the target closed: " + end);
            byte[] closeEcho = dataOf(end, 1);
            assertEquals((byte) 0x88, closeEcho[0], "the target's close frame came first");
            assertEquals(Http2Error.NO_ERROR.code(), end.get(end.size() - 1).code(),
                         "then RST_STREAM NO_ERROR, as the client had not ended its side: " + end);
            awaitTunnels(1);

            // The client ends the second with END_STREAM: the target is closed, the stream ended.
            c.data(3, new byte[0], true).flush();
            List<Frame> end3 = c.read(f -> f.stream() == 3 && f.endStream(), 10_000);
            assertTrue(end3.stream().anyMatch(f -> f.stream() == 3 && f.type().equals("DATA") && f.endStream()),
                       end3.toString());
            awaitTunnels(2);

            // The connection still serves.
            c.headers(5, connect(lb.port(), "/ws"), false).flush();
            readUntilData(c, 5, serverText("hello from w1"));
        }
        // A copy: the third stream's record may still arrive (its connection just closed), and a
        // CopyOnWriteArrayList's sub-list fails once the list under it changes.
        for (ExchangeObserver.TunnelRecord t : List.copyOf(tunnels).subList(0, 2)) {
            assertNotNull(t.upgrade(), t.toString());
            assertEquals("HTTP/2.0", t.upgrade().protocol(), "a WebSocket over HTTP/2: " + t);
            assertEquals(101, t.upgrade().targetStatus(), t.toString());
            assertEquals("/ws", t.uri());
            assertTrue(t.bytesFromTarget() > 0, t.toString());
        }
        // The first carried the client's text and close frames (13 and 8 bytes, masked).
        assertTrue(tunnels.stream().anyMatch(t -> t.bytesFromClient() == 13 + 8), tunnels.toString());
    }

    /** A raw target: what it read of each request head, and a script per connection after it. */
    private static final class RawTarget implements AutoCloseable {
        interface Script {
            void serve(String head, InputStream in, OutputStream out) throws Exception;
        }

        final ServerSocket server;
        final BlockingQueue<String> heads = new LinkedBlockingQueue<>();
        final List<Socket> sockets = new CopyOnWriteArrayList<>();

        RawTarget(Script script) throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        sockets.add(s);
                        Thread conn = new Thread(() -> {
                            try (s) {
                                String head = readHead(s.getInputStream());
                                heads.add(head);
                                script.serve(head, s.getInputStream(), s.getOutputStream());
                            } catch (Exception e) {
                                // the connection ended
                            }
                        });
                        conn.setDaemon(true);
                        conn.start();
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            t.setDaemon(true);
            t.start();
        }

        String address() {
            return "127.0.0.1:" + server.getLocalPort();
        }

        static String readHead(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                b.write(c);
                byte[] a = b.toByteArray();
                int n = a.length;
                if (n >= 4 && a[n - 4] == '\r' && a[n - 3] == '\n' && a[n - 2] == '\r' && a[n - 1] == '\n') {
                    return b.toString(StandardCharsets.ISO_8859_1);
                }
            }
            throw new IOException("no head");
        }

        static String header(String head, String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }

        static String switching(String head, String extra) throws Exception {
            String key = header(head, "Sec-WebSocket-Key");
            String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(
                    (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.ISO_8859_1)));
            return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   + "Sec-WebSocket-Accept: " + accept + "\r\n" + extra + "\r\n";
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void theTargetSeesAnHttp11UpgradeAndTheClientTheTargetsChoices() throws Exception {
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            out.write((RawTarget.switching(head, "Sec-WebSocket-Protocol: chat\r\n"
                                                 + "Sec-WebSocket-Extensions: permessage-deflate\r\n")).getBytes(
                    StandardCharsets.ISO_8859_1));
            out.write(serverText("right behind the 101")); // in the same read as the 101, maybe
            out.flush();
            in.read(); // until the end
        }));
        FulcrumFixture lb = balancer(target.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, connect(lb.port(), "/chat?room=1").add("sec-websocket-protocol", "chat, superchat")
                    .add("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
                    .add("cookie", "a=1").add("cookie", "b=2"), false).flush();
            List<Frame> got = readUntilData(c, 1, serverText("right behind the 101"));
            Frame head = headersOf(got, 1);
            assertEquals(200, head.status());
            assertEquals("chat", String.valueOf(head.headers().get("sec-websocket-protocol")));
            assertEquals("permessage-deflate", String.valueOf(head.headers().get("sec-websocket-extensions")));
            assertNull(head.headers().get("upgrade"));
            assertNull(head.headers().get("connection"));
        }
        String req = target.heads.poll(5, TimeUnit.SECONDS);
        assertNotNull(req);
        assertTrue(req.startsWith("GET /chat?room=1 HTTP/1.1\r\n"), req);
        assertTrue("websocket".equalsIgnoreCase(RawTarget.header(req, "Upgrade")), req);
        assertTrue("upgrade".equalsIgnoreCase(RawTarget.header(req, "Connection")), req);
        assertEquals(16, Base64.getDecoder().decode(RawTarget.header(req, "Sec-WebSocket-Key")).length, req);
        assertEquals("13", RawTarget.header(req, "Sec-WebSocket-Version"), req);
        assertEquals("chat, superchat", RawTarget.header(req, "Sec-WebSocket-Protocol"), req);
        assertEquals("127.0.0.1:" + lb.port(), RawTarget.header(req, "Host"), req);
        assertEquals("a=1; b=2", RawTarget.header(req, "Cookie"), req);
        assertNotNull(RawTarget.header(req, "X-Forwarded-For"), req);
        assertNull(RawTarget.header(req, "Transfer-Encoding"), req);
        assertNull(RawTarget.header(req, "Content-Length"), req);
    }

    @Test
    void refusalsAndTargetsThatDoNotSwitch() throws Exception {
        HttpBackend http = keep(HttpBackend.start("plain"));
        FulcrumFixture lb = balancer(http.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            // A target that answers 403: the client gets it.
            c.headers(1, connect(lb.port(), "/status?code=403"), false).flush();
            // A target that serves the request (200) instead of switching: 502, never a 2xx.
            c.headers(3, connect(lb.port(), "/plain"), false).flush();
            // Another protocol than websocket: not implemented.
            c.headers(5, connect(lb.port(), "/x").set(":protocol", "connect-udp"), false).flush();
            // A plain CONNECT (a tunnel to :authority): not a forward proxy.
            c.headers(7, new DefaultHttp2Headers().method("CONNECT").authority("example.com:443"), false).flush();
            // :protocol on a GET, or a WebSocket CONNECT without :path: malformed.
            c.headers(9, H2Wire.get(lb.port(), "/").set(":protocol", "websocket"), true).flush();
            Http2Headers noPath = connect(lb.port(), "/ws");
            noPath.remove(":path");
            c.headers(11, noPath, false).flush();
            List<Frame> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 10_000;
            while (System.currentTimeMillis() < deadline && !List.of(1, 3, 5, 7, 9, 11).stream().allMatch(
                    s -> got.stream().anyMatch(f -> f.stream() == s && (f.type().equals("RST_STREAM") || f.endStream())))) {
                got.addAll(c.read(f -> false, 300));
            }
            assertEquals(403, status(got, 1), got.toString());
            assertEquals(502, status(got, 3), got.toString());
            assertEquals(501, status(got, 5), got.toString());
            assertEquals(405, status(got, 7), got.toString());
            for (int s : new int[]{9, 11}) {
                assertTrue(got.stream().anyMatch(f -> f.stream() == s && f.type().equals("RST_STREAM")
                                                      && f.code() == Http2Error.PROTOCOL_ERROR.code()),
                           "stream " + s + " reset PROTOCOL_ERROR: " + got);
            }
            // The connection goes on.
            c.headers(13, H2Wire.get(lb.port(), "/after"), true).flush();
            List<Frame> after = c.read(f -> f.stream() == 13 && f.endStream(), 10_000);
            assertEquals(200, status(after, 13), after.toString());
            assertFalse(got.stream().anyMatch(f -> f.type().equals("GOAWAY")), got.toString());
        }
    }

    /** Fulcrum is the target's WebSocket client: a 101 that does not answer its key is no switch. */
    @Test
    void aSwitchThatDoesNotAnswerFulcrumsKeyIsABadGateway() throws Exception {
        BlockingQueue<String> ends = new LinkedBlockingQueue<>();
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            String accept = head.startsWith("GET /none") ? "" : "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
            out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + accept
                       + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            ends.add(in.read() < 0 ? "eof" : "byte");
        }));
        FulcrumFixture lb = balancer(target.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, connect(lb.port(), "/wrong"), false).flush();
            c.headers(3, connect(lb.port(), "/none"), false).flush();
            List<Frame> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 10_000;
            while (System.currentTimeMillis() < deadline && got.stream().filter(f -> f.type().equals("RST_STREAM")).count() < 2) {
                got.addAll(c.read(f -> false, 300));
            }
            assertEquals(502, status(got, 1), got.toString());
            assertEquals(502, status(got, 3), got.toString());
            assertEquals("eof", ends.poll(10, TimeUnit.SECONDS), "the target's connection was closed");
            assertEquals("eof", ends.poll(10, TimeUnit.SECONDS), "the target's connection was closed");
        }
        assertTrue(tunnels.isEmpty(), "no tunnel opened: " + tunnels);
    }

    @Test
    void withTheKeyOffTheSettingIsNotAdvertisedAndExtendedConnectIsMalformed() throws Exception {
        WsEchoBackend backend = keep(new WsEchoBackend("w1"));
        FulcrumFixture lb = balancer(backend.address(), ", http2.websocket = false");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            Frame settings = c.read(f -> f.type().equals("SETTINGS"), 5_000).stream()
                    .filter(f -> f.type().equals("SETTINGS")).findFirst().orElseThrow();
            assertNull(settings.headers().get(SETTINGS_ENABLE_CONNECT_PROTOCOL), settings.headers().toString());
            c.headers(1, connect(lb.port(), "/ws"), false).flush();
            List<Frame> got = c.read(f -> f.stream() == 1 && f.type().equals("RST_STREAM"), 10_000);
            assertTrue(got.stream().anyMatch(f -> f.stream() == 1 && f.type().equals("RST_STREAM")
                                                  && f.code() == Http2Error.PROTOCOL_ERROR.code()), got.toString());
            assertEquals(0, backend.connections(), "nothing went to the target");
        }
    }

    private static int status(List<Frame> frames, int stream) {
        Frame h = headersOf(frames, stream);
        return h == null ? -1 : h.status();
    }

    @Test
    void aResetStreamClosesItsTargetAndATargetThatClosesEndsItsStream() throws Exception {
        CountDownLatch closeNow = new CountDownLatch(1);
        BlockingQueue<String> ends = new LinkedBlockingQueue<>();
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            out.write(RawTarget.switching(head, "").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            if (head.startsWith("GET /closes")) {
                closeNow.await(10, TimeUnit.SECONDS);
                return; // closes the connection
            }
            ends.add(in.read() < 0 ? "eof" : "byte"); // nothing is sent: the next read ends
        }));
        FulcrumFixture lb = balancer(target.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, connect(lb.port(), "/reset"), false).flush();
            assertEquals(200, status(c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000), 1));
            c.rst(1, Http2Error.CANCEL.code()).flush();
            assertEquals("eof", ends.poll(10, TimeUnit.SECONDS), "the target's connection was closed");
            awaitTunnels(1);

            c.headers(3, connect(lb.port(), "/closes"), false).flush();
            assertEquals(200, status(c.read(f -> f.stream() == 3 && f.type().equals("HEADERS"), 10_000), 3));
            closeNow.countDown();
            List<Frame> end = c.read(f -> f.stream() == 3 && f.type().equals("RST_STREAM"), 10_000);
            assertTrue(end.stream().anyMatch(f -> f.stream() == 3 && f.type().equals("DATA") && f.endStream()),
                       "END_STREAM when the target closed: " + end);
            awaitTunnels(2);
        }
    }

    @Test
    void aClientThatDoesNotReadHoldsBackItsTargetAndATargetThatDoesNotReadHoldsBackItsClient() throws Exception {
        long flood = 64L << 20;
        AtomicLong written = new AtomicLong();
        CountDownLatch startReading = new CountDownLatch(1);
        AtomicLong read = new AtomicLong();
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            out.write(RawTarget.switching(head, "").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            byte[] chunk = new byte[64 * 1024];
            if (head.startsWith("GET /flood")) {
                // One binary frame of it all (a 10-byte header), so that Fulcrum follows frame
                // boundaries by skipping payload, not by reading headers byte by byte.
                byte[] frameHead = new byte[10];
                frameHead[0] = (byte) 0x82;
                frameHead[1] = 127;
                long payload = flood - 10;
                for (int i = 0; i < 8; i++) {
                    frameHead[9 - i] = (byte) (payload >>> (8 * i));
                }
                out.write(frameHead);
                written.addAndGet(10);
                while (written.get() + chunk.length <= flood) {
                    out.write(chunk);
                    written.addAndGet(chunk.length);
                }
                out.write(chunk, 0, (int) (flood - written.get()));
                written.set(flood);
                out.flush();
                in.read();
            } else {
                startReading.await(60, TimeUnit.SECONDS);
                int n;
                while ((n = in.read(chunk)) > 0) {
                    read.addAndGet(n);
                }
            }
        }));
        FulcrumFixture lb = balancer(target.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            // Target to client: the client opens no window beyond HTTP/2's first 64 KiB.
            c.headers(1, connect(lb.port(), "/flood"), false).flush();
            long received = 0;
            long deadline = System.currentTimeMillis() + 3_000;
            while (System.currentTimeMillis() < deadline) {
                for (Frame f : c.read(f -> false, 200)) {
                    if (f.stream() == 1 && f.type().equals("DATA")) {
                        received += f.bytes();
                    }
                }
            }
            long held = written.get();
            System.out.println("target to client: the target wrote " + held + " bytes, the client got " + received);
            assertTrue(received <= 65_535, "no more than the window: " + received);
            assertTrue(held < 24L << 20, "the target could write " + held + " bytes to a client that reads nothing");
            // The window opens: everything arrives.
            c.windowUpdate(0, Integer.MAX_VALUE - 65_535).windowUpdate(1, Integer.MAX_VALUE - 65_535).flush();
            deadline = System.currentTimeMillis() + 60_000;
            while (received < flood && System.currentTimeMillis() < deadline) {
                for (Frame f : c.read(f -> false, 200)) {
                    if (f.stream() == 1 && f.type().equals("DATA")) {
                        received += f.bytes();
                    }
                }
            }
            assertEquals(flood, received, "the whole flood, once the client read");

            // Client to target: the target reads nothing, so the stream's window stops opening.
            c.headers(3, connect(lb.port(), "/deaf"), false).flush();
            assertEquals(200, status(c.read(f -> f.stream() == 3 && f.type().equals("HEADERS"), 10_000), 3));
            // HTTP/2's initial windows, the stream's and the connection's, until updated.
            long window = 65_535;
            long connWindow = 65_535;
            long sent = 0;
            byte[] piece = new byte[16 * 1024];
            long quietSince = System.nanoTime();
            while (System.nanoTime() - quietSince < 3_000_000_000L && sent < 64L << 20) {
                int n = (int) Math.min(piece.length, Math.min(window, connWindow));
                if (n > 0) {
                    c.data(3, java.util.Arrays.copyOf(piece, n), false).flush();
                    sent += n;
                    window -= n;
                    connWindow -= n;
                }
                for (Frame f : c.read(f -> f.type().equals("WINDOW_UPDATE"), n > 0 ? 1 : 300)) {
                    if (f.type().equals("WINDOW_UPDATE") && f.stream() == 3) {
                        quietSince = System.nanoTime();
                        window += f.bytes();
                    } else if (f.type().equals("WINDOW_UPDATE") && f.stream() == 0) {
                        connWindow += f.bytes();
                    }
                }
            }
            System.out.println("client to target: held after " + sent + " bytes sent");
            assertTrue(sent < 24L << 20, "the client could send " + sent + " bytes to a target that reads nothing");
            assertTrue(sent >= 65_535, "the first window was taken: " + sent);
            startReading.countDown();
            deadline = System.currentTimeMillis() + 20_000;
            while (read.get() < sent && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            long r = read.get();
            assertEquals(sent, r, () -> "what was held reached the target once it read; tunnels " + tunnels
                                        + ", frames " + safeRead(c));
        }
    }

    private static String safeRead(H2Wire c) {
        try {
            return c.read(f -> false, 500).toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    /**
     * Tiny frames from the target to a client whose window is closed wait in Fulcrum (copied out
     * of their read buffers, see QueuedPieces) and arrive whole and in order once it opens.
     */
    @Test
    void tinyFramesWaitingOnAClosedWindowArriveInOrder() throws Exception {
        int frames = 3000;
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        for (int i = 0; i < frames; i++) {
            expected.writeBytes(serverText(String.format("t%04d", i)));
        }
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            out.write(RawTarget.switching(head, "").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            for (int i = 0; i < frames; i++) {
                out.write(serverText(String.format("t%04d", i)));
                out.flush(); // one small read each, as far as the network keeps them apart
            }
            in.read();
        }));
        FulcrumFixture lb = balancer(target.address(), "");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings().initialWindowSize(0))) {
            c.headers(1, connect(lb.port(), "/trickle"), false).flush();
            List<Frame> got = new ArrayList<>(c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000));
            assertEquals(200, status(got, 1));
            got.addAll(c.read(f -> false, 1_500));
            assertEquals(0, dataOf(got, 1).length, "nothing passes a closed window");
            c.windowUpdate(1, 1 << 20).flush();
            readUntilData(c, 1, expected.toByteArray());
        }
    }

    @Test
    void anIdleWebSocketStreamIsClosedWhileItsConnectionIsBusy() throws Exception {
        RawTarget target = keep(new RawTarget((head, in, out) -> {
            if (RawTarget.header(head, "Upgrade") != null) {
                out.write(RawTarget.switching(head, "").getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                in.read();
                return;
            }
            do {
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                head = RawTarget.readHead(in);
            } while (true);
        }));
        FulcrumFixture lb = balancer(target.address(), ", idle-timeout = 1s");
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, connect(lb.port(), "/ws"), false).flush();
            assertEquals(200, status(c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000), 1));
            long start = System.nanoTime();
            List<Frame> seen = new ArrayList<>();
            // Requests on other streams every 250 ms keep the connection busy for 3 s.
            for (int s = 3; System.nanoTime() - start < 3_000_000_000L; s += 2) {
                c.headers(s, H2Wire.get(lb.port(), "/busy"), true).flush();
                int stream = s;
                seen.addAll(c.read(f -> f.stream() == stream && f.endStream(), 5_000));
                Thread.sleep(250);
            }
            assertFalse(c.closedByPeer(), "the busy connection stays open");
            assertTrue(seen.stream().anyMatch(f -> f.stream() == 1 && f.type().equals("RST_STREAM")),
                       "the idle WebSocket stream was reset: " + seen);
            awaitTunnels(1);
            long ms = (tunnels.get(0).durationNanos()) / 1_000_000;
            assertTrue(ms >= 900, "closed after " + ms + " ms, before the 1 s idle timeout");
        }
    }
}
