package fulcrum.diagnose;

import fulcrum.diagnose.Client.StepFailed;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Whether a session outlives the timeouts on its path. Every pingInterval a ping crosses (the
 * server's in Engine.IO 4, the client's in 3) and the peer answers; in between a long-poll is
 * held open and a WebSocket carries nothing. A balancer that times out sooner ends the session
 * every pingInterval. The full check answers pings until two came and pingInterval + pingTimeout
 * passed, on a long-poll session and a WebSocket session at once; {@code quick} stops at the
 * first ping of each (a long-poll held for pingInterval).
 */
final class PingCycle {
    private final Wire wire;
    private final EngineIo eio;
    private final EngineIo.Open open;
    private final boolean quick;
    private final boolean keepCookies;
    private final Duration timeout;
    /** Threads that block on sockets: not the common pool, which may have fewer threads than the cycles need. */
    private final Executor threads;

    PingCycle(Wire wire, int version, EngineIo.Open open, boolean quick, boolean keepCookies, Duration timeout,
              Executor threads) {
        this.wire = wire;
        this.eio = new EngineIo(version);
        this.open = open;
        this.quick = quick;
        this.keepCookies = keepCookies;
        this.timeout = timeout;
        this.threads = threads;
    }

    /** How long the checks take at most, for the operator waiting. */
    Duration expected() {
        return Duration.ofMillis(quick ? open.pingInterval() + margin() : 2 * open.pingInterval() + margin());
    }

    private long margin() {
        return 2000 + open.pingInterval() / 10;
    }

    /** Seconds every timeout on the path must exceed. */
    private long needSeconds() {
        return (open.pingInterval() + open.pingTimeout()) / 1000 + 1;
    }

    /** Both transports at once; {@code polling}/{@code webSocket} false: that one is skipped (its sessions fail anyway). */
    CompletableFuture<List<Result>> start(boolean polling, boolean webSocket) {
        CompletableFuture<Result> p = polling
                ? CompletableFuture.supplyAsync(this::longPolling, threads)
                : CompletableFuture.completedFuture(Result.skip(title("long-polling"),
                        "needs working polling sessions (see above)"));
        CompletableFuture<Result> w = webSocket
                ? CompletableFuture.supplyAsync(this::webSocket, threads)
                : CompletableFuture.completedFuture(Result.skip(title("WebSocket"),
                        "needs working WebSocket sessions (see above)"));
        return p.thenCombine(w, List::of);
    }

    private String title(String transport) {
        return eio.name() + " ping cycle, " + transport;
    }

    private boolean done(int pings, long started) {
        if (quick) {
            return pings >= 1;
        }
        return pings >= 2 && System.nanoTime() - started >= (open.pingInterval() + open.pingTimeout()) * 1_000_000L;
    }

    private Result longPolling() {
        String title = title("long-polling");
        Client c = new Client(wire, eio, keepCookies, timeout);
        long started = 0;
        long[] pollStart = {0};
        int pings = 0;
        List<String> held = new ArrayList<>();
        try {
            c.handshake();
            if (eio.version() >= 4) {
                c.post("40");
                c.pollFor("40");
            }
            started = System.nanoTime();
            Duration hold = Duration.ofMillis(open.pingInterval() + margin());
            if (eio.version() >= 4) {
                while (!done(pings, started)) {
                    pollStart[0] = System.nanoTime();
                    List<String> packets = c.poll(hold);
                    held.add(seconds(System.nanoTime() - pollStart[0]));
                    if (packets.contains("2")) {
                        c.post("3");
                        pings++;
                    }
                }
            } else {
                pings = clientPings(c, hold, pollStart, held, started);
            }
            c.closePolling();
            return Result.pass(title, pings + (pings == 1 ? " ping" : " pings") + " answered over "
                    + seconds(System.nanoTime() - started) + "; long-polls held " + String.join(", ", held), List.of());
        } catch (StepFailed e) {
            if (c.open() != null) {
                c.closePolling();
            }
            if (started == 0) {
                return Result.skip(title, "the session did not start: " + e.where());
            }
            String after = seconds(System.nanoTime() - pollStart[0]);
            List<String> details = new ArrayList<>(List.of(e.where(), "the long-poll ended after " + after
                    + ", the next ping was due " + open.pingInterval() / 1000.0 + " s after the last"));
            if (e.failure == Client.Failure.SESSION_UNKNOWN) {
                details.add("the session moved to another server while it lived: the stickiness ends too soon");
                return Result.fail(title, "\"Session ID unknown\" during the session", details, Fixes.STICKINESS);
            }
            return Result.fail(title, "a long-poll was cut after " + after, details, Fixes.longPoll(needSeconds()));
        }
    }

    /**
     * Engine.IO 3: a poll waits while the client counts pingInterval, then the client posts a
     * ping and that poll brings the pong. Returns the pings answered.
     */
    private int clientPings(Client c, Duration hold, long[] pollStart, List<String> held, long started)
            throws StepFailed {
        int pings = 0;
        long nextPing = System.nanoTime() + open.pingInterval() * 1_000_000L;
        pollStart[0] = System.nanoTime();
        CompletableFuture<List<String>> poll = pollAsync(c, hold, threads);
        while (!done(pings, started)) {
            long wait = nextPing - System.nanoTime();
            List<String> packets = null;
            try {
                packets = poll.get(Math.max(0, wait), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                c.post("2");
                nextPing = System.nanoTime() + open.pingInterval() * 1_000_000L;
                continue;
            } catch (ExecutionException | CompletionException e) {
                if (e.getCause() instanceof StepFailed f) {
                    throw f;
                }
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw c.fail(Client.Failure.NO_ANSWER, "GET poll", "interrupted", null);
            }
            held.add(seconds(System.nanoTime() - pollStart[0]));
            if (packets.contains("3")) {
                pings++;
            }
            if (!done(pings, started)) {
                pollStart[0] = System.nanoTime();
                poll = pollAsync(c, hold, threads);
            }
        }
        return pings;
    }

    private static CompletableFuture<List<String>> pollAsync(Client c, Duration hold, Executor threads) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return c.poll(hold);
            } catch (StepFailed e) {
                throw new CompletionException(e);
            }
        }, threads);
    }

    private Result webSocket() {
        String title = title("WebSocket");
        Client c = new Client(wire, eio, false, timeout);
        long started = 0;
        long[] lastFrame = {0};
        int pings = 0;
        try (WebSocket ws = c.upgrade()) {
            c.receiveOpen(ws);
            if (eio.version() >= 4) {
                c.send(ws, "40");
            }
            c.receive(ws, "40", timeout);
            started = System.nanoTime();
            lastFrame[0] = started;
            Duration wait = Duration.ofMillis(open.pingInterval() + margin());
            while (!done(pings, started)) {
                if (eio.version() >= 4) {
                    c.receive(ws, "2", wait);
                    lastFrame[0] = System.nanoTime();
                    c.send(ws, "3");
                } else {
                    idle(c, ws, open.pingInterval(), lastFrame);
                    c.send(ws, "2");
                    c.receive(ws, "3", Duration.ofMillis(open.pingTimeout()));
                    lastFrame[0] = System.nanoTime();
                }
                pings++;
            }
            c.send(ws, "1");
            return Result.pass(title, pings + (pings == 1 ? " ping" : " pings") + " answered over "
                    + seconds(System.nanoTime() - started) + ", the connection stayed open", List.of());
        } catch (StepFailed e) {
            if (started == 0) {
                return Result.skip(title, "the session did not start: " + e.where());
            }
            long now = System.nanoTime();
            if (e.getMessage().contains("timed out")) {
                return Result.fail(title, "no " + (eio.version() >= 4 ? "ping" : "pong") + " within "
                        + seconds(now - lastFrame[0]), List.of(e.where(), "the connection stayed open, but nothing came: "
                        + "a balancer that buffers WebSocket frames, or a server that does not ping"), List.of());
            }
            List<String> details = List.of(e.where(), "closed " + seconds(now - started) + " into the session, "
                    + seconds(now - lastFrame[0]) + " since the session began or last saw a ping; pings come every "
                    + open.pingInterval() / 1000.0 + " s");
            return Result.fail(title, "the WebSocket was closed after " + seconds(now - lastFrame[0]) + " without pings",
                    details, Fixes.idle(needSeconds()));
        }
    }

    /** Reads for {@code millis} as a client that waits to ping does; messages are fine, a close is not. */
    private static void idle(Client c, WebSocket ws, long millis, long[] lastFrame) throws StepFailed {
        long until = System.nanoTime() + millis * 1_000_000L;
        while (true) {
            long left = (until - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return;
            }
            try {
                ws.receive(left);
            } catch (SocketTimeoutException e) {
                return;
            } catch (IOException e) {
                throw c.fail(Client.Failure.NO_ANSWER, "WebSocket wait " + millis + " ms", Client.describe(e), null);
            }
        }
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }
}
