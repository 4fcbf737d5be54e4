package fulcrum.socketio;

import static java.util.Objects.requireNonNull;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * N real Socket.IO clients, run by {@code docker/chat/test/harness.js} as a child process that
 * speaks JSON lines (see {@code docker/chat/README.md}). Every line it prints is kept as an event
 * and copied to {@code target/chat-logs/}.
 */
public final class ChatClients implements AutoCloseable {

    private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration HARNESS_TIMEOUT = Duration.ofSeconds(20);
    private static final AtomicInteger LOG_SEQ = new AtomicInteger();

    private final Process process;
    private final Writer stdin;
    private final Writer log;
    private final Thread reader;
    private final List<Map<String, Object>> events = new ArrayList<>();
    private final Set<Integer> clientIds = new LinkedHashSet<>();

    private ChatClients(Process process, Writer log, int firstClient, int n) {
        this.process = process;
        this.log = log;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        for (int i = 0; i < n; i++) {
            clientIds.add(firstClient + i);
        }
        this.reader = new Thread(this::readLoop, "chat-harness-" + process.pid());
        this.reader.setDaemon(true);
    }

    /**
     * Starts {@code n} clients on {@code url}, numbered from 0.
     *
     * @param transports {@code default} (polling, then upgrade), {@code polling} or {@code websocket}
     * @param cookies    whether clients keep cookies, as a browser does; without it none are sent
     * @param eio        4 (socket.io-client 4) or 3 (socket.io-client 2, Engine.IO v3)
     */
    public static ChatClients start(String url, int n, String transports, boolean cookies, int eio)
            throws IOException {
        return start(url, n, transports, cookies, eio, 0);
    }

    /** As above, numbering clients from {@code firstClient} so several harnesses never clash. */
    public static ChatClients start(String url, int n, String transports, boolean cookies, int eio,
            int firstClient) throws IOException {
        requireNonNull(url, "url");
        requireNonNull(transports, "transports");
        Path root = ChatCluster.repoRoot();
        Path logDir = root.resolve("target/chat-logs");
        Files.createDirectories(logDir);
        String name = "harness-" + LOG_SEQ.incrementAndGet() + "-" + transports + "-eio" + eio;

        List<String> cmd = new ArrayList<>(List.of("node", "test/harness.js",
                "--url", url,
                "--clients", Integer.toString(n),
                "--transports", transports,
                "--eio", Integer.toString(eio),
                "--first-client", Integer.toString(firstClient),
                "--timeout-ms", Long.toString(HARNESS_TIMEOUT.toMillis())));
        if (cookies) {
            cmd.add("--cookies");
        }
        Process p = new ProcessBuilder(cmd)
                .directory(root.resolve("docker/chat").toFile())
                .redirectError(logDir.resolve(name + ".stderr.log").toFile())
                .start();
        Writer log = Files.newBufferedWriter(logDir.resolve(name + ".log"), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
        ChatClients clients = new ChatClients(p, log, firstClient, n);
        clients.reader.start();
        return clients;
    }

    /**
     * Waits for the harness's {@code ready}: true when every client connected, false when its
     * own timeout passed first.
     */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        Map<String, Object> ready = awaitEvent(e -> "ready".equals(e.get("event")), timeout)
                .orElseThrow(() -> new AssertionError("no ready from the harness within " + timeout
                        + "; events: " + events()));
        return !Boolean.FALSE.equals(ready.get("complete"));
    }

    /** Every connected client sends one chat message {@code {from, seq}}. */
    public void sendChat() throws IOException {
        command("chat");
    }

    /** The clients' state after a short settle. */
    public Report report() throws IOException, InterruptedException {
        Predicate<Map<String, Object>> isReport = e -> "report".equals(e.get("event"));
        int before = count(isReport);
        command("report");
        if (!awaitCondition(list -> list.stream().filter(isReport).count() > before, REPLY_TIMEOUT)) {
            throw new AssertionError("no report from the harness within " + REPLY_TIMEOUT
                    + "; events: " + events());
        }
        return Report.from(events().stream().filter(isReport).skip(before).findFirst().orElseThrow());
    }

    /**
     * Waits until every client of this harness has received at least one chat message from each
     * of {@code senders} (client numbers, possibly of other harnesses).
     */
    public boolean awaitReceivedFrom(Collection<Integer> senders, Duration timeout)
            throws InterruptedException {
        return awaitCondition(list -> {
            Map<Integer, Set<Long>> got = new HashMap<>();
            for (Map<String, Object> e : list) {
                if ("chat".equals(e.get("event")) && e.get("from") instanceof Long from) {
                    got.computeIfAbsent(number(e.get("client")), k -> new LinkedHashSet<>())
                            .add(from);
                }
            }
            for (int client : clientIds) {
                Set<Long> from = got.getOrDefault(client, Set.of());
                for (int s : senders) {
                    if (!from.contains((long) s)) {
                        return false;
                    }
                }
            }
            return true;
        }, timeout);
    }

    /** The first event matching {@code match}, waiting for it up to {@code timeout}. */
    public Optional<Map<String, Object>> awaitEvent(Predicate<Map<String, Object>> match,
            Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (events) {
            while (true) {
                for (Map<String, Object> e : events) {
                    if (match.test(e)) {
                        return Optional.of(e);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !reader.isAlive()) {
                    return Optional.empty();
                }
                events.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    /** Waits until {@code condition} holds over all events so far. */
    public boolean awaitCondition(Predicate<List<Map<String, Object>>> condition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (events) {
            while (true) {
                if (condition.test(List.copyOf(events))) {
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !reader.isAlive()) {
                    return false;
                }
                events.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    /** A copy of every event printed so far, in order. */
    public List<Map<String, Object>> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    /** The client numbers this harness runs. */
    public Set<Integer> clientIds() {
        return Set.copyOf(clientIds);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            command("quit");
            stdin.close();
        } catch (IOException ignored) {
            // The harness is gone already.
        }
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        reader.join(2000);
        synchronized (log) {
            log.close();
        }
    }

    private void command(String line) throws IOException {
        synchronized (stdin) {
            stdin.write(line + "\n");
            stdin.flush();
        }
    }

    private int count(Predicate<Map<String, Object>> match) {
        synchronized (events) {
            return (int) events.stream().filter(match).count();
        }
    }


    private void readLoop() {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                writeLog(line);
                Map<String, Object> event;
                try {
                    event = Json.parseObject(line);
                } catch (IllegalArgumentException e) {
                    event = Map.of("event", "unparsed", "line", line);
                }
                synchronized (events) {
                    events.add(event);
                    events.notifyAll();
                }
            }
        } catch (IOException e) {
            writeLog("reader: " + e);
        } finally {
            synchronized (events) {
                events.notifyAll();
            }
        }
    }

    private void writeLog(String line) {
        synchronized (log) {
            try {
                log.write(line);
                log.write('\n');
                log.flush();
            } catch (IOException ignored) {
                // Diagnostics only.
            }
        }
    }

    private static int number(Object o) {
        return o instanceof Number n ? n.intValue() : -1;
    }

    /** The harness's {@code report}. */
    public record Report(List<Client> clients) {

        public Report {
            clients = List.copyOf(clients);
        }

        @SuppressWarnings("unchecked")
        static Report from(Map<String, Object> event) {
            List<Client> clients = new ArrayList<>();
            for (Object o : (List<Object>) event.get("clients")) {
                clients.add(Client.from((Map<String, Object>) o));
            }
            return new Report(clients);
        }

        public boolean allConnected() {
            return clients.stream().allMatch(Client::connected);
        }

        /** The distinct servers the connected clients are on. */
        public Set<String> servers() {
            Set<String> servers = new LinkedHashSet<>();
            for (Client c : clients) {
                if (c.server() != null) {
                    servers.add(c.server());
                }
            }
            return servers;
        }

        public Client client(int number) {
            return clients.stream().filter(c -> c.client() == number).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no client " + number
                            + " in " + clients));
        }
    }

    /**
     * One client as the harness reports it.
     *
     * @param received      chat messages received, by sender's client number
     * @param connectErrors each {@code connect_error}: message, and when known type,
     *                      description, status and body
     * @param cookies       the client's cookie jar, empty when it keeps none
     */
    public record Client(int client, boolean connected, String server, String transport,
            int disconnects, List<Map<String, Object>> connectErrors, int sent,
            Map<Integer, Integer> received, Map<String, String> cookies) {

        @SuppressWarnings("unchecked")
        static Client from(Map<String, Object> m) {
            Map<Integer, Integer> received = new LinkedHashMap<>();
            Object r = m.get("received");
            if (r instanceof Map<?, ?> map) {
                map.forEach((k, v) -> {
                    try {
                        received.put(Integer.parseInt((String) k), number(v));
                    } catch (NumberFormatException ignored) {
                        // A message with no numeric sender: not one of the harness's.
                    }
                });
            }
            Map<String, String> cookies = new LinkedHashMap<>();
            if (m.get("cookies") instanceof Map<?, ?> jar) {
                jar.forEach((k, v) -> cookies.put(String.valueOf(k), String.valueOf(v)));
            }
            List<Map<String, Object>> errors = new ArrayList<>();
            if (m.get("connectErrors") instanceof List<?> list) {
                for (Object e : list) {
                    errors.add((Map<String, Object>) e);
                }
            }
            return new Client(number(m.get("client")), Boolean.TRUE.equals(m.get("connected")),
                    (String) m.get("server"), (String) m.get("transport"),
                    number(m.get("disconnects")), List.copyOf(errors), number(m.get("sent")),
                    Map.copyOf(received), Map.copyOf(cookies));
        }

        public int receivedFrom(int sender) {
            return received.getOrDefault(sender, 0);
        }
    }
}
