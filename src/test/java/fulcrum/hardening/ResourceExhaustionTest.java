package fulcrum.hardening;

import fulcrum.testing.RawClient;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Fulcrum as its own process, run out of a resource for real. Out of file descriptors it sheds:
 * it stops accepting (no spin, one warning), keeps serving the connections it has, and answers new
 * ones once descriptors free up. Out of buffer memory it exits with status 3 and one line, for the
 * service manager to start it again; before that fix it stalled in java.nio.Bits, answered nothing
 * and ignored SIGTERM.
 */
class ResourceExhaustionTest {
    private static final long GRACE_MS = 1000;
    /** What a stop may take over its grace: a JVM's exit, on a busy machine. */
    private static final long STOP_MARGIN_MS = 3000;

    @TempDir
    Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (IOException e) {
                // already gone
            }
        }
    }

    private static void assumeTransport(String transport) {
        assumeTrue(transport.equals("epoll") ? Epoll.isAvailable() : IoUring.isAvailable(), transport);
    }

    private FulcrumProcess start(String transport, String backend, int ioThreads, List<String> wrapper,
                                 List<String> jvmOptions) throws IOException {
        Path conf = dir.resolve("fulcrum.conf");
        Files.writeString(conf, "fulcrum { io-threads = " + ioThreads + ", shutdown-grace = " + GRACE_MS + "ms\n"
                + "transport = " + transport + "\n"
                + "admin.bind = \"127.0.0.1:0\"\n"
                + "listeners = [{ name = a, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"" + backend + "\"], health-check.enabled = false } }");
        FulcrumProcess p = new FulcrumProcess(conf, dir.resolve("fulcrum.log"), wrapper, jvmOptions);
        open.add(p);
        return p;
    }

    /**
     * 256 descriptors, 400 idle connections on top of two keep-alive ones. While they are open: the
     * process uses little CPU, logs one warning, serves a request on a connection whose backend
     * connection is pooled, and answers (a 5xx) one that would need a new backend connection.
     * Once they close, the listener and the admin API answer again, the end of the run is logged
     * once, and SIGTERM stops the process within its grace.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io-uring", "epoll"})
    void outOfFileDescriptorsItShedsAndRecovers(String transport) throws Exception {
        assumeTransport(transport);
        assumeTrue(FulcrumProcess.jarIsCurrent(), "needs target/fulcrum.jar built from these classes: "
                                                  + "mvn -o package -DskipTests");
        BulkBackend backend = new BulkBackend(1024, 0);
        open.add(backend);
        // One loop: one backend pool, so which requests find a pooled connection is known.
        FulcrumProcess fulcrum = start(transport, backend.address(), 1,
                                       List.of("bash", "-c", "ulimit -n 256 && exec \"$@\"", "fulcrum"), List.of());
        int port = fulcrum.listenerPort("a", 20_000);
        int admin = fulcrum.adminPort(5_000);

        RawClient pooled = new RawClient(port);
        open.add(pooled);
        RawClient fresh = new RawClient(port);
        open.add(fresh);
        assertEquals(200, pooled.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").read().status());
        // fresh is accepted now; it sends its first request when descriptors are gone.
        assertEquals(200, get(port, "/ok").status());

        List<Socket> flood = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            Socket s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            flood.add(s);
            open.add(s);
        }
        awaitLine(fulcrum, "listener a: cannot accept connections", 5_000);
        long cpu = fulcrum.cpuMillis();
        long t = System.nanoTime();
        Thread.sleep(2000);
        long busy = (fulcrum.cpuMillis() - cpu) * 100 / ((System.nanoTime() - t) / 1_000_000);
        assertTrue(busy < 30, transport + ": " + busy + " % of a core while out of descriptors");

        assertEquals(200, pooled.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").read().status(),
                     "a keep-alive connection with a pooled backend connection is served");
        // The pooled backend connection is now held by an upload that the backend never answers.
        pooled.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
        long asked = System.nanoTime();
        RawClient.Response r = fresh.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").read();
        assertNotNull(r, () -> "an answer, not a close:\n" + output(fulcrum));
        System.out.println(transport + ": a request needing a new backend connection got " + r.status() + " in "
                           + (System.nanoTime() - asked) / 1_000_000 + " ms");
        assertEquals(503, r.status(), "no descriptor for a backend connection");

        for (Socket s : flood) {
            s.close();
        }
        long closed = System.nanoTime();
        assertEquals(200, awaitAnswer(port, "/ok", 5_000), "the listener answers again");
        assertEquals(200, awaitAnswer(admin, "/healthz", 5_000), "the admin API answers again");
        System.out.println(transport + ": answering again " + (System.nanoTime() - closed) / 1_000_000
                           + " ms after the idle connections closed");
        awaitLine(fulcrum, "listener a: accepting again", QUIET_MS + 3_000);

        assertEquals(1, fulcrum.lines("listener a: cannot accept connections").size(), fulcrum.output());
        assertTrue(fulcrum.lines("listener a: cannot accept connections").get(0).contains("Too many open files"));
        assertEquals(1, fulcrum.lines("listener a: accepting again").size(), fulcrum.output());
        assertFalse(fulcrum.output().contains("reached at the tail of the pipeline"), fulcrum.output());

        pooled.close();
        fresh.close();
        stopsWithinGrace(fulcrum);
    }

    /** As AcceptErrors.QUIET_MS: how long accepts go without failing before the run is logged as over. */
    private static final long QUIET_MS = 5_000;

    /**
     * 32 MiB of direct memory, a thousand readers that stop reading 2 MiB responses (~75 KiB of
     * buffers each, past the limit): the process exits with status 3 and one fatal line that
     * names the memory, within seconds, instead of stalling with its ports open.
     */
    @ParameterizedTest
    @ValueSource(strings = {"io-uring", "epoll"})
    void outOfBufferMemoryItExitsToBeRestarted(String transport) throws Exception {
        assumeTransport(transport);
        BulkBackend backend = new BulkBackend(2L << 20, 32 * 1024);
        open.add(backend);
        FulcrumProcess fulcrum = start(transport, backend.address(), 2, List.of(),
                                       List.of("-XX:MaxDirectMemorySize=32m"));
        int port = fulcrum.listenerPort("a", 20_000);
        assertEquals(200, get(port, "/ok").status());

        List<SocketChannel> readers = new ArrayList<>();
        for (int i = 0; i < 1000 && fulcrum.process().isAlive(); i++) {
            SocketChannel s = SocketChannel.open();
            s.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
            open.add(s);
            try {
                s.connect(new InetSocketAddress("127.0.0.1", port));
            } catch (IOException e) {
                break;
            }
            readers.add(s);
        }
        for (SocketChannel s : readers) {
            try {
                s.write(ByteBuffer.wrap("GET /big HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
            } catch (IOException e) {
                break;
            }
        }
        long t = System.nanoTime();
        assertTrue(fulcrum.process().waitFor(20, TimeUnit.SECONDS), "still running: " + fulcrum.output());
        System.out.println(transport + ": exited " + (System.nanoTime() - t) / 1_000_000 + " ms after the requests");
        assertEquals(3, fulcrum.process().exitValue(), fulcrum.output());
        List<String> fatal = fulcrum.lines("fatal:");
        assertEquals(1, fatal.size(), fulcrum.output());
        assertTrue(fatal.get(0).contains("buffer memory exhausted (java.lang.OutOfMemoryError")
                   && fatal.get(0).endsWith("exiting with status 3 to be restarted"), fatal.get(0));
        System.out.println(fatal.get(0));
    }

    private static void stopsWithinGrace(FulcrumProcess fulcrum) throws Exception {
        long t = System.nanoTime();
        fulcrum.process().destroy();
        boolean ended = fulcrum.process().waitFor(GRACE_MS + STOP_MARGIN_MS, TimeUnit.MILLISECONDS);
        long ms = (System.nanoTime() - t) / 1_000_000;
        assertTrue(ended, "SIGTERM did not stop it in " + ms + " ms:\n" + fulcrum.output());
        assertEquals(0, fulcrum.process().exitValue(), fulcrum.output());
        System.out.println("stopped " + ms + " ms after SIGTERM");
    }

    private static String output(FulcrumProcess fulcrum) {
        try {
            return fulcrum.output();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void awaitLine(FulcrumProcess fulcrum, String text, long timeoutMs) throws Exception {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (fulcrum.lines(text).isEmpty()) {
            assertTrue(System.nanoTime() < end, "no '" + text + "' in " + timeoutMs + " ms:\n" + fulcrum.output());
            Thread.sleep(50);
        }
    }

    /** The status of the first answer to a new connection, trying every 100 ms. */
    private static int awaitAnswer(int port, String path, long timeoutMs) throws Exception {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            try {
                return get(port, path).status();
            } catch (IOException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static RawClient.Response get(int port, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(1000);
            RawClient c = new RawClient(s);
            s.setSoTimeout(1000);
            RawClient.Response r = c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").read();
            if (r == null) {
                throw new IOException("closed without an answer");
            }
            return r;
        }
    }
}
