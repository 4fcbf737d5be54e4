package fulcrum.admin;

import fulcrum.config.FulcrumSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/** A balancer with its operations side, configured from a real file, and a client of its admin API. */
final class OpsFixture implements AutoCloseable {
    final Path file;
    final Operations ops;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    String token;

    private OpsFixture(Path file, Operations ops) {
        this.file = file;
        this.ops = ops;
    }

    /** {@code hocon}: a whole {@code fulcrum { ... }} file; listeners and the admin API on port 0. */
    static OpsFixture start(Path dir, String hocon) {
        Path f = dir.resolve("fulcrum.conf");
        write(f, hocon);
        return new OpsFixture(f, Operations.start(FulcrumSettings.load(f), f));
    }

    static void write(Path f, String text) {
        try {
            Files.writeString(f, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One listener "web" on port 0 to group "app" of {@code targets}, the admin API on port 0. */
    static String config(String groupSettings, String... targets) {
        StringBuilder t = new StringBuilder();
        for (String s : targets) {
            t.append(t.length() == 0 ? "" : ", ").append('"').append(s).append('"');
        }
        return "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
               + "admin.bind = \"127.0.0.1:0\"\n"
               + "listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
               + "target-groups.app { targets = [" + t + "]\n" + groupSettings + "\n} }\n";
    }

    int port() {
        return ops.balancer().listenerAddress(0).getPort();
    }

    String url(String path) {
        return "http://127.0.0.1:" + port() + path;
    }

    String admin(String path) {
        return "http://127.0.0.1:" + ops.adminAddress().getPort() + path;
    }

    HttpResponse<String> call(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(admin(path))).timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                                             : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> get(String path) {
        return call("GET", path, null);
    }

    /** Waits up to 10 s for {@code condition}. */
    static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 10 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A WebSocket client through the balancer that notes when its connection ended. */
    static final class Ws implements WebSocket.Listener {
        final CompletableFuture<Long> closedAt = new CompletableFuture<>();
        final java.util.concurrent.BlockingQueue<String> texts = new java.util.concurrent.LinkedBlockingQueue<>();
        WebSocket ws;

        static Ws open(HttpClient client, int port) throws Exception {
            Ws w = new Ws();
            w.ws = client.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), w)
                         .get(10, TimeUnit.SECONDS);
            return w;
        }

        String next() throws InterruptedException {
            String s = texts.poll(10, TimeUnit.SECONDS);
            if (s == null) {
                throw new AssertionError("no message within 10 s");
            }
            return s;
        }

        @Override
        public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
            texts.add(data.toString());
            w.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket w, int status, String reason) {
            closedAt.complete(System.nanoTime());
            return null;
        }

        @Override
        public void onError(WebSocket w, Throwable error) {
            closedAt.complete(System.nanoTime());
        }
    }

    @Override
    public void close() {
        ops.stop(Duration.ofMillis(500));
    }
}
