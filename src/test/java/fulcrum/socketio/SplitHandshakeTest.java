package fulcrum.socketio;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Engine.IO stickiness when a target's handshake answer reaches Fulcrum in two reads (a busy
 * Node process, a proxy in between, TLS records): the sid must be learnt wherever the body
 * splits, or the session's next requests go round-robin and half of them meet "Session ID
 * unknown". Two raw backends, each writing the handshake body in two writes 30 ms apart.
 */
@Timeout(60)
class SplitHandshakeTest {
    private EngineIoBackend a;
    private EngineIoBackend b;
    private FulcrumFixture lb;

    @BeforeEach
    void start() throws IOException {
        a = new EngineIoBackend("a");
        b = new EngineIoBackend("b");
        lb = FulcrumFixture.forTargets("""
                health-check.enabled = false
                stickiness { enabled = true, type = engine-io }
                """, a.address(), b.address());
    }

    @AfterEach
    void stop() throws IOException {
        lb.close();
        a.close();
        b.close();
    }

    /** Where the body is cut: inside each thing the scanner looks for, and at its edges. */
    private static int[] cuts(String body) {
        int key = body.indexOf("\"sid\":\"");
        int value = key + 7;
        int interval = body.indexOf("\"pingInterval\":") + 15;
        int timeout = body.indexOf("\"pingTimeout\":") + 14;
        return new int[] {0, 1, 2, key + 1, key + 4, key + 6, value, value + 1, value + 10, value + 19,
                          interval - 3, interval + 2, timeout + 1, timeout + 4, body.length() - 1};
    }

    @Test
    void followUpsReachTheTargetThatIssuedTheSid() throws Exception {
        int[] cuts = cuts(EngineIoBackend.handshake(EngineIoBackend.sid("a", 1)));
        for (boolean chunked : new boolean[] {false, true}) {
            for (int cut : cuts) {
                a.cut = b.cut = cut;
                a.chunked = b.chunked = chunked;
                String what = "body cut at " + cut + (chunked ? ", chunked" : "");
                try (RawClient c = new RawClient(lb.port())) {
                    c.send("GET /socket.io/?EIO=4&transport=polling&t=P1 HTTP/1.1\r\nHost: x\r\n\r\n");
                    RawClient.Response hs = c.read();
                    assertEquals(200, hs.status(), what);
                    String sid = hs.body().substring(9, hs.body().indexOf('"', 9));
                    String issuer = sid.substring(0, 1);
                    for (int i = 0; i < 4; i++) {
                        String uri = "/socket.io/?EIO=4&transport=polling&t=P" + (i + 2) + "&sid=" + sid;
                        c.send(i % 2 == 0
                               ? "GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n"
                               : "POST " + uri + " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                 + "Content-Length: 2\r\n\r\n40");
                        RawClient.Response r = c.read();
                        assertEquals(200, r.status(), what + ", request " + i + ": " + r.body());
                        assertEquals("ok " + issuer, r.body(), what + ", request " + i);
                    }
                }
            }
        }
        assertEquals(List.of(), a.unknown, "sessions a never issued");
        assertEquals(List.of(), b.unknown, "sessions b never issued");
        assertEquals(2 * cuts.length, a.issued.size() + b.issued.size(), "every handshake reached a backend");
    }

    /**
     * Answers an Engine.IO polling handshake with a sid of its own (its name first) in two writes
     * {@code cut} bytes into the body, 30 ms apart; a request with a sid it issued with
     * "ok NAME"; one with any other sid with Engine.IO's 400 "Session ID unknown".
     */
    private static final class EngineIoBackend implements AutoCloseable {
        private final String name;
        private final ServerSocket server;
        private final AtomicInteger sessions = new AtomicInteger();
        final Set<String> issued = ConcurrentHashMap.newKeySet();
        final List<String> unknown = new CopyOnWriteArrayList<>();
        volatile int cut;
        volatile boolean chunked;

        EngineIoBackend(String name) throws IOException {
            this.name = name;
            this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread t = new Thread(this::accept, "engine-io-backend-" + name);
            t.setDaemon(true);
            t.start();
        }

        /** Like Engine.IO's: 20 characters, unique per server here. */
        static String sid(String name, int n) {
            return String.format("%s-%018d", name, n);
        }

        static String handshake(String sid) {
            return "0{\"sid\":\"" + sid + "\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
                   + "\"pingTimeout\":20000,\"maxPayload\":1000000}";
        }

        String address() {
            return "127.0.0.1:" + server.getLocalPort();
        }

        private void accept() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread t = new Thread(() -> serve(s), "engine-io-conn-" + name);
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                s.setSoTimeout(10_000);
                s.setTcpNoDelay(true);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                String head;
                while ((head = head(in)) != null) {
                    String uri = head.split(" ")[1];
                    in.readNBytes(contentLength(head));
                    int at = uri.indexOf("&sid=");
                    if (at < 0) {
                        String sid = sid(name, sessions.incrementAndGet());
                        issued.add(sid);
                        answerInTwo(out, handshake(sid).getBytes(StandardCharsets.US_ASCII));
                    } else if (issued.contains(uri.substring(at + 5))) {
                        write(out, 200, "ok " + name);
                    } else {
                        unknown.add(uri);
                        write(out, 400, "{\"code\":1,\"message\":\"Session ID unknown\"}");
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the balancer closed the connection, or the test ended
            }
        }

        private void answerInTwo(OutputStream out, byte[] body) throws IOException, InterruptedException {
            int n = Math.min(cut, body.length);
            String head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                          + (chunked ? "Transfer-Encoding: chunked" : "Content-Length: " + body.length) + "\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            part(out, body, 0, n);
            out.flush();
            Thread.sleep(30);
            part(out, body, n, body.length);
            if (chunked) {
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
        }

        private void part(OutputStream out, byte[] body, int from, int to) throws IOException {
            if (from == to) {
                return;
            }
            if (chunked) {
                out.write((Integer.toHexString(to - from) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            }
            out.write(body, from, to - from);
            if (chunked) {
                out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
        }

        private static void write(OutputStream out, int status, String body) throws IOException {
            out.write(("HTTP/1.1 " + status + (status == 200 ? " OK" : " Bad Request")
                       + "\r\nContent-Type: text/plain\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                              .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        private static String head(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                b.append((char) c);
                if (b.length() >= 4 && b.lastIndexOf("\r\n\r\n") == b.length() - 4) {
                    return b.toString();
                }
            }
            return null;
        }

        private static int contentLength(String head) {
            for (String line : head.split("\r\n")) {
                if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    return Integer.parseInt(line.substring(15).trim());
                }
            }
            return 0;
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
