package fulcrum.diagnose;

import fulcrum.diagnose.Client.Failure;
import fulcrum.diagnose.Client.StepFailed;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The checks of one Engine.IO version that run whole sessions: the handshake, polling sessions
 * of clients that keep cookies and of clients that keep none (each then upgraded to WebSocket, as
 * Socket.IO's default client does), the upgrades themselves, and WebSocket-only sessions.
 */
final class SessionChecks {
    static final String UPGRADE_STEP = "GET upgrade to WebSocket";
    private static final String PROBE_NAMESPACE = "/fulcrum-diagnose";

    /** One session's script run: its client (steps) and how it ended (null: completed). */
    record Run(Client client, StepFailed failure) {
        boolean reachedUpgrade() {
            return client.steps().stream().anyMatch(s -> s.what().equals(UPGRADE_STEP));
        }

        boolean upgradeFailed() {
            return failure != null && stepIndex(client, UPGRADE_STEP) >= 0
                   && failure.step - 1 >= stepIndex(client, UPGRADE_STEP);
        }
    }

    private final Wire wire;
    private final EngineIo eio;
    private final int sessions;
    private final Duration timeout;
    private EngineIo.Open open;
    private List<String> handshakeCookies = List.of();
    private final List<Run> withCookies = new ArrayList<>();
    private final List<Run> withoutCookies = new ArrayList<>();
    private Result cookiesResult;
    private Result noCookiesResult;
    private Result webSocketOnlyResult;

    SessionChecks(Wire wire, int version, int sessions, Duration timeout) {
        this.wire = wire;
        this.eio = new EngineIo(version);
        this.sessions = sessions;
        this.timeout = timeout;
    }

    /** The handshake's open packet, once {@link #handshake()} passed; else null. */
    EngineIo.Open open() {
        return open;
    }

    boolean cookiesWork() {
        return cookiesResult != null && cookiesResult.verdict() == Result.Verdict.PASS;
    }

    int version() {
        return eio.version();
    }

    boolean webSocketOnlyWorks() {
        return webSocketOnlyResult != null && webSocketOnlyResult.verdict() == Result.Verdict.PASS;
    }

    boolean noCookiesWork() {
        return noCookiesResult != null && noCookiesResult.verdict() == Result.Verdict.PASS;
    }

    private String title(String what) {
        return eio.name() + " " + what;
    }

    Result handshake() {
        String title = title("handshake");
        Client c = new Client(wire, eio, false, timeout);
        try {
            EngineIo.Open o = c.handshake();
            c.closePolling();
            open = o;
            handshakeCookies = c.handshakeCookies();
            List<String> details = new ArrayList<>();
            for (String sc : handshakeCookies) {
                Cookie k = Cookie.parse(sc);
                if (k != null) {
                    details.add("sets cookie " + k.describe() + (k.secure() && !wire.endpoint().tls()
                            ? ": Secure over plain HTTP, so browsers never send it back" : ""));
                }
            }
            if (details.isEmpty()) {
                details.add("sets no cookie");
            }
            return Result.pass(title, c.steps().get(0).outcome().replaceFirst(", sid .*", "") + "; pingInterval "
                    + o.pingInterval() + " ms, pingTimeout " + o.pingTimeout() + " ms, upgrades " + o.upgrades(), details);
        } catch (StepFailed e) {
            HttpResponse r = e.response;
            if (r != null && r.status() == 400 && r.text().contains("\"code\":5")) {
                return Result.skip(title, "the server does not speak " + eio.name() + (eio.version() == 3
                        ? " (Socket.IO 2 clients need allowEIO3: true on the server)" : " (a Socket.IO 2 server)"));
            }
            if (r != null && r.status() == 404) {
                return Result.fail(title, "404 at " + wire.endpoint().path() + ": no Socket.IO there",
                        List.of(r.brief()), List.of("give the Socket.IO path with --path (the client's `path` option)",
                                "check the balancer routes that path to the Socket.IO servers"));
            }
            if (r != null && r.status() >= 300 && r.status() < 400 && r.header("Location") != null) {
                return Result.fail(title, r.status() + " to " + r.header("Location"), List.of("Socket.IO clients "
                        + "do not follow redirects"), List.of("diagnose (and point clients at) the address redirected to"));
            }
            if (r != null && (r.status() == 502 || r.status() == 503 || r.status() == 504)) {
                return Result.fail(title, r.brief(), List.of("the balancer answered itself: no healthy target, "
                        + "or a target that does not answer"), List.of("check the targets' health and the health check's path"));
            }
            return Result.fail(title, e.getMessage(), List.of(), List.of());
        }
    }

    /** Polling sessions of clients that keep cookies, then of clients that keep none. */
    List<Result> polling() {
        withCookies.addAll(runAll(i -> session(true)));
        withoutCookies.addAll(runAll(i -> session(false)));
        cookiesResult = judgePolling("polling, cookies kept (browsers)", withCookies, null);
        noCookiesResult = judgePolling("polling, no cookies (Node.js, mobile)", withoutCookies, cookiesResult);
        return List.of(cookiesResult, noCookiesResult);
    }

    private Run session(boolean cookies) {
        Client c = new Client(wire, eio, cookies, timeout);
        try {
            c.handshake();
            if (eio.version() >= 4) {
                c.post("40");
                c.pollFor("40");
                c.post("6");
                c.post("6");
            } else {
                c.post("2");
                c.pollFor("3");
                c.post("2");
                c.pollFor("3");
            }
            if (!c.open().upgrades().contains("websocket")) {
                c.closePolling();
                return new Run(c, null);
            }
            try (WebSocket ws = c.upgrade()) {
                c.send(ws, "2probe");
                c.receive(ws, "3probe", timeout);
                c.send(ws, "5");
                roundTrip(c, ws);
                c.send(ws, "1");
            }
            return new Run(c, null);
        } catch (StepFailed e) {
            if (c.open() != null) {
                c.closePolling();
            }
            return new Run(c, e);
        }
    }

    /**
     * A message each way on an open WebSocket. Version 3 clients ping; version 4 servers forbid it,
     * so the client asks to join a namespace of ours, which any server answers (44: no such
     * namespace, or 40 where namespaces are made on demand) without touching the session's own.
     */
    private void roundTrip(Client c, WebSocket ws) throws StepFailed {
        if (eio.version() >= 4) {
            c.send(ws, "40" + PROBE_NAMESPACE + ",");
            c.receive(ws, "WebSocket receive 44" + PROBE_NAMESPACE,
                    m -> m.startsWith("44" + PROBE_NAMESPACE + ",") || m.startsWith("40" + PROBE_NAMESPACE + ","), timeout);
        } else {
            c.send(ws, "2");
            c.receive(ws, "3", timeout);
        }
    }

    private Result judgePolling(String what, List<Run> runs, Result cookies) {
        String title = title(what);
        int requests = 0;
        Map<String, Integer> unknownAt = new TreeMap<>();
        List<String> other = new ArrayList<>();
        int broken = 0;
        for (Run r : runs) {
            requests += (int) r.client().steps().stream().filter(s -> s.what().startsWith("GET") || s.what().startsWith("POST")).count();
            if (r.failure() == null || r.upgradeFailed() && r.failure().failure != Failure.SESSION_UNKNOWN) {
                continue;
            }
            broken++;
            if (r.failure().failure == Failure.SESSION_UNKNOWN) {
                unknownAt.merge("step " + r.failure().step + " (" + r.failure().what + ")", 1, Integer::sum);
            } else {
                other.add(r.failure().where());
            }
        }
        if (broken == 0) {
            return Result.pass(title, runs.size() + " sessions, " + requests
                    + " requests on new connections, each reached the server holding its session", List.of());
        }
        List<String> details = new ArrayList<>();
        if (!unknownAt.isEmpty()) {
            int n = unknownAt.values().stream().mapToInt(Integer::intValue).sum();
            details.add("\"Session ID unknown\" in " + n + " of " + runs.size() + " sessions, at " + counts(unknownAt));
            details.add("the requests of one session reached different servers");
            details.add(stickyCookies());
        }
        details.addAll(other);
        if (unknownAt.isEmpty()) {
            return Result.fail(title, broken + " of " + runs.size() + " sessions broke", details, List.of());
        }
        boolean onlyWithoutCookies = cookies != null && cookies.verdict() == Result.Verdict.PASS && other.isEmpty();
        if (onlyWithoutCookies) {
            return Result.warn(title, "works only for clients that keep the balancer's cookie", details, Fixes.COOKIELESS);
        }
        return Result.fail(title, broken + " of " + runs.size() + " sessions broke: no stickiness", details, Fixes.STICKINESS);
    }

    private String stickyCookies() {
        List<String> names = new ArrayList<>();
        for (String sc : handshakeCookies) {
            Cookie k = Cookie.parse(sc);
            if (k != null) {
                names.add(k.name());
            }
        }
        return names.isEmpty() ? "the balancer set no cookie on the handshake"
                : "cookies set on the handshake: " + String.join(", ", names);
    }

    /** The upgrades of the sessions above that reached the server holding them. */
    Result upgrades() {
        String title = title("upgrade to WebSocket");
        if (open != null && !open.upgrades().contains("websocket")) {
            return Result.skip(title, "the server offers no upgrade (upgrades " + open.upgrades() + ")");
        }
        List<Run> reached = new ArrayList<>();
        for (Run r : concat(withCookies, withoutCookies)) {
            if (r.reachedUpgrade() && !(r.upgradeFailed() && r.failure().failure == Failure.SESSION_UNKNOWN)) {
                reached.add(r);
            }
        }
        if (reached.isEmpty()) {
            return Result.skip(title, "no session got to its upgrade on the server holding it (see above)");
        }
        for (Run r : reached) {
            if (r.failure() != null) {
                return upgradeFailure(title, r.failure(), reached.size());
            }
        }
        return Result.pass(title, reached.size() + " upgrades: 101 with Upgrade, Connection and Sec-WebSocket-Accept; "
                + "2probe -> 3probe, 5, then messages both ways", List.of());
    }

    /** WebSocket-only sessions (transports: ['websocket']): one connection, no stickiness needed. */
    Result webSocketOnly() {
        webSocketOnlyResult = runWebSocketOnly();
        return webSocketOnlyResult;
    }

    private Result runWebSocketOnly() {
        String title = title("WebSocket-only sessions");
        if (open != null && !open.upgrades().contains("websocket")) {
            return Result.skip(title, "the server offers no WebSocket transport");
        }
        List<Run> runs = runAll(i -> {
            Client c = new Client(wire, eio, false, timeout);
            try (WebSocket ws = c.upgrade()) {
                c.receiveOpen(ws);
                if (eio.version() >= 4) {
                    c.send(ws, "40");
                    c.receive(ws, "40", timeout);
                } else {
                    c.receive(ws, "40", timeout);
                    c.send(ws, "2");
                    c.receive(ws, "3", timeout);
                }
                c.send(ws, "1");
                return new Run(c, null);
            } catch (StepFailed e) {
                return new Run(c, e);
            }
        });
        for (Run r : runs) {
            if (r.failure() != null) {
                return upgradeFailure(title, r.failure(), runs.size());
            }
        }
        return Result.pass(title, runs.size() + " sessions: 101, open packet, connect, messages both ways", List.of());
    }

    private Result upgradeFailure(String title, StepFailed f, int of) {
        List<String> details = new ArrayList<>();
        details.add(f.where());
        HttpResponse r = f.response;
        if (r != null && r.status() != 101 && (r.text().contains("Bad request") || r.text().contains("\"code\":3")
                                               || r.status() == 200)) {
            details.add("the request reached the server without its Upgrade and Connection fields: "
                        + "the balancer does not pass WebSocket upgrades");
            return Result.fail(title, "upgrade fields lost on the way", details, Fixes.UPGRADE);
        }
        if (r != null && r.status() == 101) {
            return Result.fail(title, "a 101 that a WebSocket client rejects", details, Fixes.UPGRADE);
        }
        if (f.failure == Failure.NO_ANSWER && f.what.startsWith("WebSocket")) {
            details.add("the 101 came but messages did not flow: the balancer buffers or closes the tunnel");
        }
        return Result.fail(title, "failed in " + of + " tried", details, Fixes.UPGRADE);
    }

    /**
     * One session after the other: sessions run at once interleave their requests, and over two
     * servers in strict round-robin each could keep meeting its own server, passing by luck.
     */
    private List<Run> runAll(Function<Integer, Run> script) {
        List<Run> runs = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            runs.add(script.apply(i));
        }
        return runs;
    }

    private static int stepIndex(Client c, String what) {
        for (int i = 0; i < c.steps().size(); i++) {
            if (c.steps().get(i).what().equals(what)) {
                return i;
            }
        }
        return -1;
    }

    private static String counts(Map<String, Integer> m) {
        List<String> parts = new ArrayList<>();
        m.forEach((k, v) -> parts.add(k + (v > 1 ? " x" + v : "")));
        return String.join(", ", parts);
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

}
