package fulcrum.h2;

import fulcrum.testing.Cli;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTP/2 from real clients (curl, nghttp, h2load) through Fulcrum to HTTP/1.1 targets. */
class Http2FrontendTest {
    @TempDir
    static Path dir;
    private static TestCerts.Cert cert;
    private static HttpBackend a;
    private static HttpBackend b;
    private static FulcrumFixture lb;

    @BeforeAll
    static void start() throws Exception {
        cert = TestCerts.generate(dir, "lb", "lb.test", "dns:lb.test,ip:127.0.0.1,ip:127.0.0.2,ip:127.0.0.3");
        a = HttpBackend.start("a");
        b = HttpBackend.start("b");
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 2, shutdown-grace = 1s
                  listeners = [
                    { name = plain, bind = "127.0.0.1:0", default-target-group = app }
                    { name = tls, bind = "127.0.0.2:0", default-target-group = app
                      tls { certificates = [{ cert = "%s", key = "%s" }] } }
                    { name = tls-h1, bind = "127.0.0.3:0", default-target-group = app, http2.enabled = false
                      tls { certificates = [{ cert = "%s", key = "%s" }] } }
                  ]
                  target-groups.app { targets = ["%s", "%s"], health-check.enabled = false }
                }""".formatted(cert.certFile(), cert.keyFile(), cert.certFile(), cert.keyFile(), a.address(),
                               b.address()));
    }

    @AfterAll
    static void stop() {
        if (lb != null) {
            lb.close();
        }
        if (a != null) {
            a.close();
            b.close();
        }
    }

    private static String plain(String path) {
        return "http://127.0.0.1:" + lb.balancer().listenerAddress(0).getPort() + path;
    }

    private static String tls(int listener, String path) {
        return "https://127.0.0." + (listener + 1) + ":" + lb.balancer().listenerAddress(listener).getPort() + path;
    }

    @Test
    void curlWithPriorKnowledgeGetsHttp2OnThePlainPort() throws Exception {
        // One URL per run: curl 7.88 fails to reuse a prior-knowledge connection (curl/curl#10634).
        Cli.Result r = Cli.run(20, "curl", "-sS", "--http2-prior-knowledge", "-w", "\\n%{http_version} %{http_code}",
                               plain("/"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().matches("[ab]\\n2 200"), r.output());
    }

    @Test
    void nghttpStreamsOnOneConnectionAreRequestsEach() throws Exception {
        // Four streams at once on one connection: round robin per stream, headers as a target needs them.
        int before = a.requests() + b.requests();
        Cli.Result r = Cli.run(20, "nghttp", "-n", "-s", "-H", "cookie: x=1", "-H", "cookie: y=2",
                               plain("/1"), plain("/2"), plain("/3"), plain("/4"));
        assertEquals(0, r.exit(), r.output());
        assertEquals(before + 4, a.requests() + b.requests());
        Map<String, List<String>> h = a.requestHeaders().get(a.requestHeaders().size() - 1);
        assertEquals(List.of("x=1; y=2"), h.get("Cookie"), "split cookie fields joined: " + h);
        assertEquals(List.of("127.0.0.1:" + lb.balancer().listenerAddress(0).getPort()), h.get("Host"));
        assertEquals(List.of("127.0.0.1"), h.get("X-forwarded-for"));
        assertEquals(List.of("http"), h.get("X-forwarded-proto"));
        assertTrue(h.containsKey("X-request-id"), h.toString());
    }

    @Test
    void requestBodiesStreamBothWays() throws Exception {
        Path body = dir.resolve("body.bin");
        byte[] bytes = new byte[300_000];
        new java.util.Random(1).nextBytes(bytes);
        java.nio.file.Files.write(body, bytes);
        Path out = dir.resolve("echo.bin");
        Cli.Result r = Cli.run(30, "curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@" + body, "-o",
                               out.toString(), "-w", "%{http_version} %{http_code}", plain("/echo"));
        assertEquals("2 200", r.output());
        assertTrue(java.util.Arrays.equals(bytes, java.nio.file.Files.readAllBytes(out)), "echoed intact");
    }

    @Test
    void http11StillServedOnThePlainPort() throws Exception {
        Cli.Result r = Cli.run(20, "curl", "-sS", "--http1.1", "-w", "\\n%{http_version} %{http_code}", plain("/"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().endsWith("\n1.1 200"), r.output());
    }

    @Test
    void curlOverTlsNegotiatesH2ByAlpn() throws Exception {
        Cli.Result r = Cli.run(20, "curl", "-sS", "--http2", "--cacert", cert.certFile().toString(), "-w",
                               "\\n%{http_version} %{http_code}", tls(1, "/"), tls(1, "/x"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().matches("(?s)[ab]\\n2 200[ab]\\n2 200"), r.output());
    }

    @Test
    void listenerWithHttp2OffOffersOnlyHttp11() throws Exception {
        Cli.Result r = Cli.run(20, "curl", "-sS", "--http2", "--cacert", cert.certFile().toString(), "-w",
                               "\\n%{http_version} %{http_code}", tls(2, "/"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().endsWith("\n1.1 200"), r.output());
    }

    @Test
    void h2loadManyStreamsOnFewConnectionsAllSucceed() throws Exception {
        // 4 connections x 16 concurrent streams, h2c and then over TLS.
        for (String url : List.of(plain("/"), tls(1, "/"))) {
            Cli.Result r = Cli.run(60, "h2load", "-n", "400", "-c", "4", "-m", "16", url);
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("400 succeeded, 0 failed, 0 errored"), r.output());
            assertTrue(r.output().contains("status codes: 400 2xx"), r.output());
            assertTrue(r.output().contains("Application protocol: h2"), r.output());
        }
    }
}
