package fulcrum.h2;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request body's flow-control window opens only as its target takes the body: against a target
 * that reads nothing, a client that sends only what its windows allow is stopped after socket
 * buffers and a window or two, and the other target's clients are served meanwhile.
 */
class Http2UploadBackpressureTest {
    private ServerSocket deaf;
    private final List<Socket> accepted = new ArrayList<>();
    private Thread acceptor;
    private HttpBackend other;
    private FulcrumFixture lb;

    @BeforeEach
    void start() throws Exception {
        deaf = new ServerSocket();
        deaf.setReceiveBufferSize(16 * 1024);
        deaf.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        acceptor = new Thread(() -> {
            try {
                while (true) {
                    Socket s = deaf.accept(); // accepted, never read
                    synchronized (accepted) {
                        accepted.add(s);
                    }
                }
            } catch (Exception e) {
                // closed
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        other = HttpBackend.start("other");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = h2, bind = "127.0.0.1:0", default-target-group = other,
                    rules = [{ priority = 1, conditions { path = ["/upload"] }, action { forward = deaf } }] }]
                  target-groups {
                    deaf { targets = ["127.0.0.1:%d"], health-check.enabled = false, response-timeout = 60s }
                    other { targets = ["%s"], health-check.enabled = false }
                  }
                }""".formatted(deaf.getLocalPort(), other.address()));
    }

    @AfterEach
    void stop() throws Exception {
        lb.close();
        other.close();
        deaf.close();
        synchronized (accepted) {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void anUploadToATargetThatDoesNotReadIsHeldByItsWindow() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings())) {
            c.headers(1, H2Wire.get(lb.port(), "/upload").method("POST"), false).flush();
            // HTTP/2's initial windows, stream and connection: 65535 bytes each until updated.
            long streamWindow = 65_535;
            long connWindow = 65_535;
            long sent = 0;
            byte[] piece = new byte[16 * 1024];
            long quietSince = System.nanoTime();
            while (System.nanoTime() - quietSince < 3_000_000_000L && sent < 64L << 20) {
                int n = (int) Math.min(piece.length, Math.min(streamWindow, connWindow));
                if (n > 0) {
                    c.data(1, java.util.Arrays.copyOf(piece, n), false).flush();
                    sent += n;
                    streamWindow -= n;
                    connWindow -= n;
                }
                for (Frame f : c.read(f -> f.type().equals("WINDOW_UPDATE"), n > 0 ? 1 : 300)) {
                    if (f.type().equals("WINDOW_UPDATE")) {
                        quietSince = System.nanoTime();
                        if (f.stream() == 1) {
                            streamWindow += f.bytes();
                        } else if (f.stream() == 0) {
                            connWindow += f.bytes();
                        }
                    }
                }
            }
            // Held: socket buffers (the target's is 16 KiB, the kernel's send side more), Fulcrum's
            // write buffer and one stream window; nowhere near what an unbounded reader would take.
            assertTrue(sent < 8L << 20, "the client could send " + sent + " bytes to a target that reads nothing");
            assertTrue(sent >= 65_535, "the first window was taken: " + sent);
            Cli.Result r = Cli.run(20, "curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_version} %{http_code}",
                                   lb.url("/meanwhile"));
            assertEquals("other 2 200", r.output());
        }
    }
}
