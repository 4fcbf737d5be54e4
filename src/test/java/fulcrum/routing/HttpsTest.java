package fulcrum.routing;

import fulcrum.config.FulcrumSettings;
import fulcrum.config.SettingsException;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import fulcrum.testing.TestCerts;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.OpenSsl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTPS listeners: SNI between two certificates, forwarding headers, wss://, certificate errors. */
class HttpsTest {
    @TempDir
    static Path dir;
    private static TestCerts.Cert a;
    private static TestCerts.Cert b;
    private static HttpBackend web;
    private static EventLoopGroup wsLoops;
    private static Channel wsServer;
    private static FulcrumFixture lb;
    private static SSLContext trustBoth;

    @BeforeAll
    static void start() throws Exception {
        a = TestCerts.generate(dir, "a", "a.test", "dns:a.test,dns:*.a.test,ip:127.0.0.1");
        b = TestCerts.generate(dir, "b", "b.test", "dns:b.test");
        trustBoth = TestCerts.trusting(a.certificate(), b.certificate());
        web = HttpBackend.start("web");
        wsLoops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        wsServer = new ServerBootstrap().group(wsLoops).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536),
                                              new WebSocketServerProtocolHandler("/ws"),
                                              new SimpleChannelInboundHandler<TextWebSocketFrame>() {
                                                  @Override
                                                  protected void channelRead0(ChannelHandlerContext ctx,
                                                                              TextWebSocketFrame f) {
                                                      ctx.writeAndFlush(new TextWebSocketFrame("echo " + f.text()));
                                                  }
                                              });
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        int wsPort = ((InetSocketAddress) wsServer.localAddress()).getPort();
        lb = FulcrumFixture.start("""
                fulcrum { io-threads = 1, shutdown-grace = 1s
                  listeners = [{ name = public, bind = "127.0.0.1:0", default-target-group = web
                    tls { certificates = [{ cert = "%s", key = "%s" }, { cert = "%s", key = "%s" }] }
                    rules = [{ priority = 1, conditions { path = ["/ws"] }, action { forward = ws } }]
                  }]
                  target-groups {
                    web { targets = ["%s"], health-check.enabled = false }
                    ws { targets = ["127.0.0.1:%d"], health-check.enabled = false }
                  }
                }""".formatted(a.certFile(), a.keyFile(), b.certFile(), b.keyFile(), web.address(), wsPort));
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (lb != null) {
            lb.close();
        }
        if (web != null) {
            web.close();
        }
        if (wsServer != null) {
            wsServer.close().sync();
            wsLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static SSLSocket connect(String sni) throws Exception {
        // A fresh client context each time: a cached session would be resumed whatever the SNI name.
        SSLContext ctx = TestCerts.trusting(a.certificate(), b.certificate());
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", lb.port());
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
        p.setApplicationProtocols(new String[] {"http/1.1"});
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private static String subject(SSLSocket s) throws IOException {
        return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }

    @Test
    void openSslIsTheProvider() {
        assertTrue(OpenSsl.isAvailable(), "OpenSSL unavailable: " + OpenSsl.unavailabilityCause());
    }

    @Test
    void sniChoosesTheCertificate() throws Exception {
        try (SSLSocket s = connect("b.test")) {
            assertEquals("CN=b.test", subject(s));
            assertEquals("http/1.1", s.getApplicationProtocol());
            assertTrue(s.getSession().getProtocol().equals("TLSv1.3"), s.getSession().getProtocol());
        }
        try (SSLSocket s = connect("x.a.test")) {
            assertEquals("CN=a.test", subject(s), "wildcard name");
        }
        try (SSLSocket s = connect("unknown.test")) {
            assertEquals("CN=a.test", subject(s), "unknown name: the first certificate");
        }
        try (SSLSocket s = connect(null)) {
            assertEquals("CN=a.test", subject(s), "no SNI: the first certificate");
        }
    }

    @Test
    void requestsOverTlsAreForwardedAsHttps() throws Exception {
        try (RawClient c = new RawClient(connect("b.test"))) {
            for (int i = 0; i < 2; i++) {
                RawClient.Response r = c.send("GET /x HTTP/1.1\r\nHost: b.test\r\n\r\n").read();
                assertEquals("web", r.body());
            }
        }
        var headers = web.requestHeaders().get(web.requestHeaders().size() - 1);
        assertEquals(List.of("https"), headers.get("X-forwarded-proto"));
    }

    @Test
    void tls12IsAccepted() throws IOException {
        SSLSocket s = (SSLSocket) trustBoth.getSocketFactory().createSocket("127.0.0.1", lb.port());
        s.setEnabledProtocols(new String[] {"TLSv1.2"});
        try (RawClient c = new RawClient(s)) {
            assertEquals("web", c.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").read().body());
            assertEquals("TLSv1.2", s.getSession().getProtocol());
        }
    }

    @Test
    void webSocketOverTls() throws Exception {
        HttpClient client = HttpClient.newBuilder().sslContext(trustBoth).build();
        CompletableFuture<String> reply = new CompletableFuture<>();
        WebSocket ws = client.newWebSocketBuilder()
                .buildAsync(URI.create("wss://127.0.0.1:" + lb.port() + "/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                        reply.complete(data.toString());
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        ws.sendText("hello", true);
        assertEquals("echo hello", reply.get(10, TimeUnit.SECONDS));
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(10, TimeUnit.SECONDS);
    }

    private static String startError(Path cert, Path key) throws IOException {
        Path file = dir.resolve("tls.conf");
        Files.writeString(file, "fulcrum {\n  listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = web\n"
                                + "    tls.certificates = [{ cert = \"" + cert + "\", key = \"" + key + "\" }] }]\n"
                                + "  target-groups.web.targets = [\"127.0.0.1:1\"]\n}\n");
        return assertThrows(SettingsException.class, () -> FulcrumSettings.load(file)).getMessage();
    }

    @Test
    void expiredCertificateIsAStartError() throws Exception {
        TestCerts.Cert old = TestCerts.generate(dir, "old", "old.test", "dns:old.test", "-30d", 10);
        String m = startError(old.certFile(), old.keyFile());
        assertTrue(m.startsWith("fulcrum.listeners[0].tls.certificates[0].cert: " + old.certFile()), m);
        assertTrue(m.contains("expired on"), m);
        assertTrue(m.endsWith("tls.conf:3"), m);
    }

    @Test
    void keyOfAnotherCertificateIsAStartError() throws IOException {
        String m = startError(a.certFile(), b.keyFile());
        assertTrue(m.startsWith("fulcrum.listeners[0].tls.certificates[0].key: " + b.keyFile()), m);
        assertTrue(m.contains("the private key of " + a.certFile()), m);
    }

    @Test
    void missingOrUnreadableFilesAreStartErrors() throws IOException {
        String m = startError(dir.resolve("nope.crt"), a.keyFile());
        assertTrue(m.startsWith("fulcrum.listeners[0].tls.certificates[0].cert: " + dir.resolve("nope.crt")), m);
        assertTrue(m.contains("no such file"), m);
        Path garbage = dir.resolve("garbage.key");
        Files.writeString(garbage, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        m = startError(a.certFile(), garbage);
        assertTrue(m.startsWith("fulcrum.listeners[0].tls.certificates[0].key: " + garbage), m);
        assertTrue(m.contains("PKCS#8"), m);
    }
}
