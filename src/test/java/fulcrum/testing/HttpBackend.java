package fulcrum.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP/1.1 server on loopback for tests (the JDK's own server: keep-alive, chunked,
 * 100-continue). Paths:
 * <ul>
 *   <li>{@code /health}: answers {@link #healthStatus(int)} (200 at first)</li>
 *   <li>{@code /echo}: answers the request body, streamed</li>
 *   <li>{@code /sink}: reads the body, answers its length and a checksum</li>
 *   <li>{@code /big?bytes=N}: answers N bytes, chunked</li>
 *   <li>{@code /hang}: never answers</li>
 *   <li>{@code /slow?ms=M}: answers after M ms</li>
 *   <li>{@code /drip?chunks=N&ms=M}: N small chunks, M ms apart</li>
 *   <li>{@code /status?code=N}: answers status N</li>
 *   <li>anything else: 200 with the backend's name as body, request headers recorded</li>
 * </ul>
 */
public final class HttpBackend implements AutoCloseable {
    private final String name;
    private final int port;
    private HttpServer server;
    private ExecutorService executor;
    private volatile int healthStatus = 200;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger healthChecks = new AtomicInteger();
    private final AtomicInteger cut = new AtomicInteger();
    private final List<Map<String, List<String>>> headers = new CopyOnWriteArrayList<>();
    private final Map<String, Integer> hits = new ConcurrentHashMap<>();

    private HttpBackend(String name, int port) {
        this.name = name;
        this.port = port;
    }

    public static HttpBackend start(String name) throws IOException {
        return start(name, 0);
    }

    public static HttpBackend start(String name, int port) throws IOException {
        HttpBackend b = new HttpBackend(name, port);
        b.open(port);
        return b;
    }

    private void open(int p) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", p), 256);
        executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "backend-" + name);
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    public String name() {
        return name;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String address() {
        return "127.0.0.1:" + port();
    }

    public void healthStatus(int status) {
        this.healthStatus = status;
    }

    /** Requests other than health checks. */
    public int requests() {
        return requests.get();
    }

    public int healthChecks() {
        return healthChecks.get();
    }

    /**
     * Plain responses other than health checks whose head went out but whose body did not, because
     * {@link #stop()} closed the connection in between: a client may see them cut short.
     */
    public int cutResponses() {
        return cut.get();
    }

    /** Request headers of every non-health request, in order. */
    public List<Map<String, List<String>>> requestHeaders() {
        return headers;
    }

    /** Stops listening and drops open connections, as a crashed server would. */
    public void stop() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** Listens again on the same port. */
    public void restart() throws IOException {
        int p = port();
        open(p);
    }

    @Override
    public void close() {
        stop();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String query = ex.getRequestURI().getQuery();
        try (ex) {
            switch (path) {
                case "/health" -> {
                    healthChecks.incrementAndGet();
                    respond(ex, healthStatus, "health " + name);
                }
                case "/echo" -> {
                    count(ex);
                    ex.sendResponseHeaders(200, 0);
                    try (InputStream in = ex.getRequestBody(); OutputStream out = ex.getResponseBody()) {
                        in.transferTo(out);
                    }
                }
                case "/sink" -> {
                    count(ex);
                    long n = 0;
                    long sum = 0;
                    byte[] buf = new byte[65536];
                    try (InputStream in = ex.getRequestBody()) {
                        int r;
                        while ((r = in.read(buf)) > 0) {
                            for (int i = 0; i < r; i++) {
                                sum = sum * 31 + buf[i];
                            }
                            n += r;
                        }
                    }
                    respond(ex, 200, n + " " + sum);
                }
                case "/big" -> {
                    count(ex);
                    long bytes = Long.parseLong(query.substring(query.indexOf('=') + 1));
                    ex.sendResponseHeaders(200, 0);
                    byte[] chunk = new byte[65536];
                    for (int i = 0; i < chunk.length; i++) {
                        chunk[i] = (byte) ('a' + i % 26);
                    }
                    try (OutputStream out = ex.getResponseBody()) {
                        long left = bytes;
                        while (left > 0) {
                            int n = (int) Math.min(chunk.length, left);
                            out.write(chunk, 0, n);
                            left -= n;
                        }
                    }
                }
                case "/drip" -> {
                    count(ex);
                    String[] q = query.split("&");
                    int chunks = Integer.parseInt(q[0].substring(q[0].indexOf('=') + 1));
                    long ms = Long.parseLong(q[1].substring(q[1].indexOf('=') + 1));
                    ex.sendResponseHeaders(200, 0);
                    try (OutputStream out = ex.getResponseBody()) {
                        for (int i = 0; i < chunks; i++) {
                            out.write(("chunk" + i + "\n").getBytes(StandardCharsets.US_ASCII));
                            out.flush();
                            Thread.sleep(ms);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                case "/slow" -> {
                    count(ex);
                    try {
                        Thread.sleep(Long.parseLong(query.substring(query.indexOf('=') + 1)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    respond(ex, 200, name);
                }
                case "/hang" -> {
                    count(ex);
                    try {
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                case "/status" -> {
                    count(ex);
                    respond(ex, Integer.parseInt(query.substring(query.indexOf('=') + 1)), name);
                }
                default -> {
                    count(ex);
                    ex.getRequestBody().readAllBytes();
                    respond(ex, 200, name);
                }
            }
        }
    }

    private void count(HttpExchange ex) {
        requests.incrementAndGet();
        headers.add(Map.copyOf(ex.getRequestHeaders()));
        hits.merge(ex.getRequestURI().getPath(), 1, Integer::sum);
    }

    private void respond(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain");
        if (status == 204 || status == 304) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        } catch (IOException e) {
            if (!ex.getRequestURI().getPath().equals("/health")) {
                cut.incrementAndGet();
            }
            throw e;
        }
    }
}
