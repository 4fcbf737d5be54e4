package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random and mutated requests (the desync corpus, mutated) through a real balancer for a few
 * seconds: every connection is answered or closed within a bound, nothing reaches the tail of
 * a pipeline, no buffer leaks (paranoid leak detection, checked after the test), the backend
 * never sees a request framed two ways, and the balancer still answers afterwards.
 */
class ProxyFuzzTest {
    private static final long RUN_NANOS = 5_000_000_000L;
    private static final int READ_BOUND_MS = 4000;
    private static final byte[] SPICE = "\r\n \t:;,\0\u000b0-9aZ/\"chunked Content-Length Transfer-Encoding Host\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1);

    @Test
    void mutatedRequestsNeitherHangNorLeakNorEscape() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        for (fulcrum.http.DesyncCorpusTest.Case c : fulcrum.http.DesyncCorpusTest.cases()) {
            seeds.add(c.bytes());
        }
        List<String> problems = new CopyOnWriteArrayList<>();
        AtomicInteger sent = new AtomicInteger();
        try (RawBackend backend = new RawBackend(RawBackend.RECORDER);
             TailExceptions tail = new TailExceptions()) {
            FulcrumFixture lb = FulcrumFixture.start(
                    "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                    + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app,"
                    + " header-timeout = 1s, idle-timeout = 2s, max-body-size = 64KiB }]\n"
                    + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false,"
                    + " response-timeout = 2s } }");
            try {
                ExecutorService pool = Executors.newFixedThreadPool(6);
                long end = System.nanoTime() + RUN_NANOS;
                List<Future<?>> workers = new ArrayList<>();
                for (int w = 0; w < 6; w++) {
                    long seed = 42 + w;
                    workers.add(pool.submit(() -> {
                        Random random = new Random(seed);
                        while (System.nanoTime() < end) {
                            byte[] req = mutate(seeds.get(random.nextInt(seeds.size())), random);
                            String problem = exchange(lb.port(), req);
                            sent.incrementAndGet();
                            if (problem != null) {
                                problems.add(problem + " for " + printable(req));
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : workers) {
                    f.get(RUN_NANOS / 1_000_000 + 10 * READ_BOUND_MS, TimeUnit.MILLISECONDS);
                }
                pool.shutdown();
                // Still healthy after the storm.
                assertEquals(null, exchange(lb.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1)));
            } finally {
                lb.close();
            }
            assertTrue(sent.get() > 100, "fuzzed " + sent.get() + " connections");
            assertEquals(List.of(), problems.subList(0, Math.min(10, problems.size())));
            assertEquals(List.of(), tail.seen(), "events that reached the tail of a pipeline");
            List<String> framing = backend.violations().stream()
                    .filter(v -> !v.contains("end of stream") && !v.endsWith("null")).toList();
            assertEquals(List.of(), framing, "requests the backend could not frame strictly");
        }
    }

    /** Sends {@code req}; null when the balancer answered with HTTP or closed within the bound. */
    private static String exchange(int port, byte[] req) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(READ_BOUND_MS);
            try {
                s.getOutputStream().write(req);
                s.getOutputStream().flush();
            } catch (IOException e) {
                return null; // closed on us while we wrote: an answer of sorts
            }
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                if (got.size() == 0) {
                    return "no answer and not closed within " + READ_BOUND_MS + " ms";
                }
                // answered, then kept alive for a next request
            } catch (IOException e) {
                return null; // reset
            }
            String text = got.toString(StandardCharsets.ISO_8859_1);
            if (!text.isEmpty() && !text.startsWith("HTTP/1.1 ")) {
                return "not an HTTP response: " + printable(got.toByteArray());
            }
            return null;
        }
    }

    static byte[] mutate(byte[] seed, Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(seed);
        byte[] b = out.toByteArray();
        int edits = 1 + r.nextInt(4);
        for (int i = 0; i < edits; i++) {
            int kind = r.nextInt(7);
            int at = b.length == 0 ? 0 : r.nextInt(b.length);
            switch (kind) {
                case 0 -> { // flip a byte
                    if (b.length > 0) {
                        b[at] = (byte) r.nextInt(256);
                    }
                }
                case 1 -> b = splice(b, at, new byte[] {SPICE[r.nextInt(SPICE.length)]}, 0);
                case 2 -> b = splice(b, at, new byte[0], Math.min(b.length - at, 1 + r.nextInt(8)));
                case 3 -> b = java.util.Arrays.copyOf(b, at); // truncate
                case 4 -> { // duplicate a line
                    int start = lineStart(b, at);
                    int end = lineEnd(b, at);
                    b = splice(b, end, java.util.Arrays.copyOfRange(b, start, end), 0);
                }
                case 5 -> { // a snippet of protocol text
                    int from = r.nextInt(SPICE.length);
                    int len = Math.min(SPICE.length - from, 1 + r.nextInt(20));
                    b = splice(b, at, java.util.Arrays.copyOfRange(SPICE, from, from + len), 0);
                }
                default -> { // append another request
                    b = splice(b, b.length, "GET /next HTTP/1.1\r\nHost: n\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), 0);
                }
            }
        }
        return b;
    }

    private static byte[] splice(byte[] b, int at, byte[] insert, int remove) {
        byte[] r = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, r, 0, at);
        System.arraycopy(insert, 0, r, at, insert.length);
        System.arraycopy(b, at + remove, r, at + insert.length, b.length - at - remove);
        return r;
    }

    private static int lineStart(byte[] b, int at) {
        int i = Math.min(at, b.length);
        while (i > 0 && b[i - 1] != '\n') {
            i--;
        }
        return i;
    }

    private static int lineEnd(byte[] b, int at) {
        int i = at;
        while (i < b.length && b[i] != '\n') {
            i++;
        }
        return Math.min(b.length, i + 1);
    }

    private static String printable(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            s.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return s.toString();
    }
}
