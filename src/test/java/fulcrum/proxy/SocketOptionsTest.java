package fulcrum.proxy;

import fulcrum.balance.Target;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.WsEchoBackend;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both sockets of a proxied pair have Nagle off and keep-alive on, on every transport. Neither
 * option is set for TCP_NODELAY (Netty turns it on as it makes each socket), and a backend
 * connection to an IP target is made without a Bootstrap: this holds that nothing was lost. On
 * epoll, sockets for IPv4 addresses are AF_INET (Netty's default is AF_INET6 with mapped addresses).
 */
class SocketOptionsTest {

    @ParameterizedTest
    @ValueSource(strings = {"io-uring", "epoll", "nio"})
    void bothSidesOfATunnelHaveNoDelayAndKeepAlive(String transport) throws Exception {
        try (WsEchoBackend backend = new WsEchoBackend("w");
             FulcrumFixture lb = FulcrumFixture.start(
                     "fulcrum { io-threads = 1, shutdown-grace = 1s, transport = " + transport + "\n"
                     + "listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                     + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
             Socket s = new Socket("127.0.0.1", lb.port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            readUntil(s.getInputStream(), "hello from w");

            EventLoop loop = lb.balancer().loops().next();
            Target target = lb.balancer().targetGroups().get("app").snapshot().all().get(0);
            ListenerContext listener = lb.balancer().listenerContexts().get(0);
            List<Channel> backends = loop.submit(() -> lb.balancer().pools().forLoop(loop).tunnels(target)).get();
            List<Channel> clients = loop.submit(() -> listener.idleSweep(loop).connections().stream()
                    .map(FrontendHandler::channel).toList()).get();
            assertEquals(1, backends.size(), "one tunnel to the target");
            assertEquals(1, clients.size(), "one client connection");
            for (Channel ch : List.of(backends.get(0), clients.get(0))) {
                String side = ch == clients.get(0) ? "client side" : "target side";
                assertEquals(lb.balancer().transport().socketChannel(), ch.getClass(), side);
                assertTrue(ch.config().getOption(ChannelOption.TCP_NODELAY), side + ": TCP_NODELAY");
                assertTrue(ch.config().getOption(ChannelOption.SO_KEEPALIVE), side + ": SO_KEEPALIVE");
                if (transport.equals("epoll")) {
                    assertEquals("AF_INET", family(((InetSocketAddress) ch.localAddress()).getPort(),
                                                   ((InetSocketAddress) ch.remoteAddress()).getPort()), side);
                }
            }
            if (transport.equals("epoll")) {
                assertEquals("AF_INET", family(lb.port(), 0), "the listener");
            }
        }
    }

    /**
     * The family of the TCP socket with local port {@code local} and remote port {@code remote}
     * (0 for a listening socket), from the kernel's tables: an IPv4 address on an AF_INET6 socket
     * is listed in tcp6.
     */
    private static String family(int local, int remote) throws Exception {
        boolean v4 = listed(Path.of("/proc/self/net/tcp"), local, remote);
        boolean v6 = listed(Path.of("/proc/self/net/tcp6"), local, remote);
        return v4 == v6 ? "listed in tcp " + v4 + ", in tcp6 " + v6 : v4 ? "AF_INET" : "AF_INET6";
    }

    private static boolean listed(Path table, int local, int remote) throws Exception {
        String l = String.format(":%04X", local);
        String r = String.format(":%04X", remote);
        return Files.readAllLines(table).stream().skip(1).map(line -> line.trim().split("\\s+"))
                .anyMatch(f -> f[1].endsWith(l) && f[2].endsWith(r));
    }

    private static void readUntil(InputStream in, String marker) throws Exception {
        StringBuilder seen = new StringBuilder();
        byte[] buf = new byte[4096];
        while (!seen.toString().contains(marker)) {
            int n = in.read(buf);
            if (n < 0) {
                throw new AssertionError("closed before \"" + marker + "\"; read: " + seen);
            }
            seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
    }
}
