package fulcrum.diagnose;

import fulcrum.diagnose.Client.StepFailed;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Whether a session outlives the timeouts on its path. Engine.IO 4 servers ping every
 * pingInterval and drop a client silent for pingTimeout after it; meanwhile a long-poll is held
 * open and a WebSocket carries nothing. A balancer that times out sooner ends the session every
 * pingInterval. The full check answers pings until two came and pingInterval + pingTimeout
 * passed, on a long-poll session and a WebSocket session at once; {@code quick} stops at the
 * first ping of each (a long-poll held for pingInterval).
 */
final class PingCycle {
    private final Wire wire;
    private final EngineIo eio = new EngineIo(4);
    private final EngineIo.Open open;
    private final boolean quick;
    private final boolean keepCookies;
    private final Duration timeout;

    PingCycle(Wire wire, EngineIo.Open open, boolean quick, boolean keepCookies, Duration timeout) {
        this.wire = wire;
        this.open = open;
        this.quick = quick;
        this.keepCookies = keepCookies;
        this.timeout = timeout;
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

    List<Result> run(boolean polling, boolean webSocket) {
        CompletableFuture<Result> p = polling
                ? CompletableFuture.supplyAsync(this::longPolling)
                : CompletableFuture.completedFuture(Result.skip(title("long-polling"),
                        "needs working polling sessions (see above)"));
        CompletableFuture<Result> w = webSocket
                ? CompletableFuture.supplyAsync(this::webSocket)
                : CompletableFuture.completedFuture(Result.skip(title("WebSocket"),
                        "needs working WebSocket sessions (see above)"));
        return List.of(p.join(), w.join());
    }

    private String title(String transport) {
        return "EIO=4 ping cycle, " + transport;
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
        long pollStart = 0;
        int pings = 0;
        List<String> held = new ArrayList<>();
        try {
            c.handshake();
            c.post("40");
            c.pollFor("40");
            started = System.nanoTime();
            Duration hold = Duration.ofMillis(c.open().pingInterval() + margin());
            while (!done(pings, started)) {
                pollStart = System.nanoTime();
                List<String> packets = c.poll(hold);
                held.add(seconds(System.nanoTime() - pollStart));
                if (packets.contains("2")) {
                    c.post("3");
                    pings++;
                }
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
            String after = seconds(System.nanoTime() - pollStart);
            List<String> details = new ArrayList<>(List.of(e.where(), "the long-poll ended after " + after
                    + ", the server's next ping was due at " + open.pingInterval() / 1000.0 + " s"));
            if (e.failure == Client.Failure.SESSION_UNKNOWN) {
                details.add("the session moved to another server while it lived: the stickiness ends too soon");
                return Result.fail(title, "\"Session ID unknown\" during the session", details, Fixes.STICKINESS);
            }
            return Result.fail(title, "a long-poll was cut after " + after, details, Fixes.longPoll(needSeconds()));
        }
    }

    private Result webSocket() {
        String title = title("WebSocket");
        Client c = new Client(wire, eio, false, timeout);
        long started = 0;
        long lastFrame = 0;
        int pings = 0;
        try (WebSocket ws = c.upgrade()) {
            c.receiveOpen(ws);
            c.send(ws, "40");
            c.receive(ws, "40", timeout);
            started = System.nanoTime();
            lastFrame = started;
            Duration wait = Duration.ofMillis(c.open().pingInterval() + margin());
            while (!done(pings, started)) {
                c.receive(ws, "2", wait);
                lastFrame = System.nanoTime();
                c.send(ws, "3");
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
                return Result.fail(title, "no ping within " + seconds(now - lastFrame) + " (pingInterval "
                        + open.pingInterval() / 1000.0 + " s)", List.of(e.where(), "the connection stayed open, "
                        + "but nothing came: a balancer that buffers WebSocket frames, or a server that does not ping"), List.of());
            }
            List<String> details = List.of(e.where(), "closed " + seconds(now - started) + " into the session, "
                    + seconds(now - lastFrame) + " after the last message; pings come every "
                    + open.pingInterval() / 1000.0 + " s");
            return Result.fail(title, "the WebSocket was closed after " + seconds(now - lastFrame) + " without traffic",
                    details, Fixes.idle(needSeconds()));
        }
    }

    private static String seconds(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f s", nanos / 1e9);
    }
}
