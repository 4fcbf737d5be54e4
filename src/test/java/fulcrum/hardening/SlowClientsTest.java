package fulcrum.hardening;

import fulcrum.admin.Operations;
import fulcrum.config.FulcrumSettings;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A thousand slow clients of one kind at a time, on every transport this machine has: readers
 * that stop reading a large response, slowloris heads, request bodies that trickle. Through each,
 * both listeners and the admin API answer, Fulcrum's pooled direct memory stays within a budget
 * per slow connection, and a stop finishes within its grace.
 */
class SlowClientsTest {
    private static final int CLIENTS = 1000;
    /** Larger than what the kernel buffers between the backend and a stalled client (~1 MiB here). */
    private static final long RESPONSE_BYTES = 2L << 20;
    /**
     * What one slow connection may hold: the 64 KiB write high water mark, a read buffer or two
     * (16 KiB each), and the pool's rounding. Without backpressure a reader holds its response.
     */
    private static final long BUDGET_PER_CONNECTION = 128 * 1024;
    private static final Duration GRACE = Duration.ofSeconds(1);

    @TempDir
    Path dir;
    private BulkBackend backend;
    private Operations fulcrum;
    private final List<AutoCloseable> clients = new ArrayList<>();

    static Stream<String> transports() {
        List<String> all = new ArrayList<>();
        if (IoUring.isAvailable()) {
            all.add("io-uring");
        }
        if (Epoll.isAvailable()) {
            all.add("epoll");
        }
        all.add("nio");
        return all.stream();
    }

    private void start(String transport) throws IOException {
        backend = new BulkBackend(RESPONSE_BYTES, 32 * 1024);
        Path conf = dir.resolve("fulcrum.conf");
        Files.writeString(conf, "fulcrum { io-threads = 2, shutdown-grace = " + GRACE.toSeconds() + "s\n"
                + "transport = " + transport + "\n"
                + "admin.bind = \"127.0.0.1:0\"\n"
                + "listener-defaults.header-timeout = 1s\n"
                + "listeners = [{ name = a, bind = \"127.0.0.1:0\", default-target-group = app },\n"
                + "             { name = b, bind = \"127.0.0.2:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }");
        fulcrum = Operations.start(FulcrumSettings.load(conf), conf);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : clients) {
            c.close();
        }
        if (fulcrum != null) {
            fulcrum.stop(Duration.ZERO);
        }
        if (backend != null) {
            backend.close();
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void readersThatStopReadingHoldABoundedAmountEach(String transport) throws Exception {
        start(transport);
        long base = directMemory();
        List<SocketChannel> readers = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            SocketChannel s = SocketChannel.open();
            s.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
            s.connect(listener(i % 2));
            readers.add(s);
            clients.add(s);
        }
        // All at once, as a burst of attackers would: the responses start together.
        for (SocketChannel s : readers) {
            s.write(ByteBuffer.wrap("GET /big HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
        }
        // Until the backend can write no more (every response stalled) for 0.7 s, or 20 s.
        long peak = 0;
        long last = -1;
        long stillSince = System.nanoTime();
        long end = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < end && System.nanoTime() - stillSince < 700_000_000L) {
            Thread.sleep(100);
            peak = Math.max(peak, directMemory() - base);
            assertWithinBudget(peak, transport);
            long w = backend.written();
            if (w != last) {
                last = w;
                stillSince = System.nanoTime();
            }
        }
        assertEquals(CLIENTS, backend.started(), "every reader's response began");
        assertTrue(backend.written() < CLIENTS * RESPONSE_BYTES, "the responses stalled: " + backend.written());
        stillServing();
        stopsWithinGrace();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void slowlorisHeadsAreClosedAndCostLittle(String transport) throws Exception {
        start(transport);
        long base = directMemory();
        List<Socket> heads = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Socket s = new Socket();
            s.connect(listener(i % 2), 5000);
            s.getOutputStream().write("GET /slow HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            heads.add(s);
            clients.add(s);
        }
        long peak = 0;
        int closed = 0;
        // The header timeout is 1 s: trickle for 1.5 s, a header line at a time.
        for (int round = 0; round < 5; round++) {
            closed = 0;
            for (Socket s : heads) {
                try {
                    s.getOutputStream().write("X-a: b\r\n".getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    closed++;
                }
            }
            peak = Math.max(peak, directMemory() - base);
            assertWithinBudget(peak, transport);
            stillServing();
            Thread.sleep(300);
        }
        assertTrue(closed > CLIENTS / 2, "the header timeout closed the trickling heads: " + closed);
        stopsWithinGrace();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void tricklingBodiesCostLittle(String transport) throws Exception {
        start(transport);
        long base = directMemory();
        List<Socket> senders = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Socket s = new Socket();
            s.connect(listener(i % 2), 5000);
            s.getOutputStream().write(("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            senders.add(s);
            clients.add(s);
        }
        long peak = 0;
        for (int round = 0; round < 3; round++) {
            for (Socket s : senders) {
                s.getOutputStream().write(new byte[100]);
            }
            peak = Math.max(peak, directMemory() - base);
            assertWithinBudget(peak, transport);
            stillServing();
            Thread.sleep(300);
        }
        assertEquals(CLIENTS, fulcrum.balancer().openConnections(), "every sender is still connected");
        stopsWithinGrace();
    }

    private static long directMemory() {
        return PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
    }

    private static void assertWithinBudget(long used, String transport) {
        if (used > maxSeen) {
            maxSeen = used;
        }
        assertTrue(used <= CLIENTS * BUDGET_PER_CONNECTION,
                   transport + ": " + (used >> 20) + " MiB of pooled direct memory for " + CLIENTS
                   + " slow clients (budget " + (CLIENTS * BUDGET_PER_CONNECTION >> 20) + " MiB)");
    }

    private InetSocketAddress listener(int i) {
        return fulcrum.balancer().listenerAddress(i);
    }

    /** Both listeners and the admin API answer a new connection within 5 s. */
    private void stillServing() throws IOException {
        for (int i = 0; i < 2; i++) {
            String r = get(listener(i), "/ok");
            assertTrue(r.startsWith("HTTP/1.1 200") && r.endsWith("ok"), "listener " + i + ": " + r);
        }
        String r = get(fulcrum.adminAddress(), "/healthz");
        assertTrue(r.startsWith("HTTP/1.1 200"), "admin: " + r);
    }

    private static String get(InetSocketAddress to, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(to, 5000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                                              .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** The peak of a test, printed at its end for the record (docs/benchmarks.md). */
    private static long maxSeen;

    private void stopsWithinGrace() {
        System.out.println("pooled direct memory peak: " + (maxSeen >> 10) + " KiB for " + CLIENTS + " clients");
        maxSeen = 0;
        long t = System.nanoTime();
        fulcrum.stop(GRACE);
        long ms = (System.nanoTime() - t) / 1_000_000;
        assertTrue(ms < GRACE.toMillis() + 3000, "stopped in " + ms + " ms (grace " + GRACE.toMillis() + " ms)");
    }
}
