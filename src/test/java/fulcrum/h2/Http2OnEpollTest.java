package fulcrum.h2;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.H2Wire;
import fulcrum.testing.H2Wire.Frame;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.TestCerts;
import io.netty.handler.codec.http2.Http2Settings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP/2 frontend on epoll, where responses that complete outside a read are flushed once
 * per loop turn (on io_uring, which the other HTTP/2 tests run on where the kernel has it, each
 * is flushed at once): many streams, a client that opens its window only after the HEADERS, an
 * upload.
 */
class Http2OnEpollTest {
    @TempDir
    static Path dir;
    private static HttpBackend backend;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        TestCerts.Cert cert = TestCerts.generate(dir, "lb", "lb.test", "ip:127.0.0.2");
        backend = HttpBackend.start("a");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s, transport = epoll
                  listeners = [
                    { name = plain, bind = "127.0.0.1:0", default-target-group = app }
                    { name = tls, bind = "127.0.0.2:0", default-target-group = app
                      tls { certificates = [{ cert = "%s", key = "%s" }] } }
                  ]
                  target-groups.app { targets = ["%s"], health-check.enabled = false }
                }""".formatted(cert.certFile(), cert.keyFile(), backend.address()));
    }

    @AfterAll
    static void stop() {
        if (lb != null) {
            lb.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private static String url(int listener, String scheme, String path) {
        return scheme + "://127.0.0." + (listener + 1) + ":" + lb.balancer().listenerAddress(listener).getPort() + path;
    }

    @Test
    void h2loadStreamsAllSucceedOverH2cAndTls() throws Exception {
        for (String url : List.of(url(0, "http", "/"), url(1, "https", "/"))) {
            Cli.Result r = Cli.run(60, "h2load", "-n", "2000", "-c", "4", "-m", "32", url);
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("2000 succeeded, 0 failed, 0 errored"), r.output());
            assertTrue(r.output().contains("Application protocol: h2"), r.output());
        }
    }

    @Test
    void aClientOpeningItsWindowOnlyAfterTheHeadersGetsTheWholeResponse() throws Exception {
        try (H2Wire c = new H2Wire(lb.port(), new Http2Settings().initialWindowSize(0))) {
            c.headers(1, H2Wire.get(lb.port(), "/hello"), true).flush();
            List<Frame> head = c.read(f -> f.stream() == 1 && f.type().equals("HEADERS"), 10_000);
            assertTrue(head.stream().anyMatch(f -> f.status() == 200), head.toString());
            c.windowUpdate(1, 1 << 20).flush();
            List<Frame> rest = c.read(f -> f.stream() == 1 && f.endStream(), 10_000);
            assertTrue(rest.stream().anyMatch(f -> f.stream() == 1 && f.type().equals("DATA") && f.bytes() > 0),
                       rest.toString());
        }
    }

    @Test
    void anUploadReachesTheTarget() throws Exception {
        Path body = dir.resolve("body.bin");
        java.nio.file.Files.write(body, new byte[300_000]);
        Cli.Result r = Cli.run(30, "curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@" + body,
                               "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url(0, "http", "/upload"));
        assertEquals("2 200", r.output());
    }
}
