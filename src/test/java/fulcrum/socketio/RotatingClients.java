package fulcrum.socketio;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Cookie-less Socket.IO clients whose every new TCP connection goes to the next Fulcrum instance
 * ({@code docker/chat/test/rotating-clients.js}); JSON lines both ways, every line kept and copied
 * to the log.
 */
final class RotatingClients implements AutoCloseable {
    private final Process process;
    private final Writer stdin;
    private final List<Map<String, Object>> events = new ArrayList<>();
    private final Writer log;

    RotatingClients(List<String> endpoints, int clients, String transports, String name, Path logDir, String... more)
            throws IOException {
        Path chat = ChatCluster.chatDir();
        List<String> cmd = new ArrayList<>(List.of("node", "test/rotating-clients.js", "--endpoints",
                                                   String.join(",", endpoints), "--clients", Integer.toString(clients),
                                                   "--transports", transports, "--name", name));
        cmd.addAll(List.of(more));
        process = new ProcessBuilder(cmd)
                .directory(chat.toFile()).redirectError(logDir.resolve("clients-" + name + ".err").toFile()).start();
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        log = Files.newBufferedWriter(logDir.resolve("clients-" + name + ".log"), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                                                                             StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (this) {
                        log.write(line);
                        log.write('\n');
                        log.flush();
                        if (line.startsWith("{")) {
                            events.add(Json.parseObject(line));
                        }
                        notifyAll();
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the process ended
            }
        }, "rotating-clients-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    void send(String json) throws IOException {
        stdin.write(json);
        stdin.write('\n');
        stdin.flush();
    }

    /** The first event after {@code from} (an index in the events) that {@code match}es, waiting up to {@code ms}. */
    synchronized Map<String, Object> await(int from, Predicate<Map<String, Object>> match, long ms)
            throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (true) {
            for (int i = from; i < events.size(); i++) {
                if (match.test(events.get(i))) {
                    return events.get(i);
                }
            }
            long left = end - System.nanoTime();
            if (left <= 0 || !process.isAlive()) {
                throw new AssertionError("no matching event within " + ms + " ms; last: "
                                         + events.subList(Math.max(0, events.size() - 5), events.size()));
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    synchronized int mark() {
        return events.size();
    }

    synchronized long count(Predicate<Map<String, Object>> match) {
        return events.stream().filter(match).count();
    }

    /** Sends {@code cmd} and returns the first event named {@code ev} it brings. */
    Map<String, Object> ask(String cmd, String ev, long ms) throws IOException, InterruptedException {
        int from = mark();
        send(cmd);
        return await(from, e -> ev.equals(e.get("ev")), ms);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> clients(Map<String, Object> report) {
        return (List<Map<String, Object>>) report.get("clients");
    }

    @Override
    public void close() {
        try {
            send("{\"cmd\":\"quit\"}");
            process.waitFor(3, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            // killed below
        }
        process.destroyForcibly();
        try {
            synchronized (this) {
                log.close();
            }
        } catch (IOException e) {
            // nothing more to keep
        }
    }
}
