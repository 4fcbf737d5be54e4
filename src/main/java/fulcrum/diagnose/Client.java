package fulcrum.diagnose;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One Socket.IO client as a script of steps, each on its own connection, each recorded: a step
 * that fails ends the script with {@link StepFailed}, which says which step and what came back.
 * {@code keepCookies}: like a browser (the cookies a response sets go back with every later request
 * of this client), or like Node.js, Java and mobile clients (no cookies).
 */
final class Client {
    /** What a failed step saw. */
    enum Failure {
        /** The request reached a server that does not hold the session: no stickiness. */
        SESSION_UNKNOWN,
        /** An answer other than the one expected (status, or packets). */
        UNEXPECTED,
        /** No answer: connection refused, reset or closed, or a timeout. */
        NO_ANSWER
    }

    record Step(String what, String outcome, boolean ok) {
    }

    static final class StepFailed extends Exception {
        final Failure failure;
        final int step;
        final String what;
        /** What came back, when something did. */
        final HttpResponse response;

        StepFailed(Failure failure, int step, String what, String detail, HttpResponse response) {
            super(detail);
            this.failure = failure;
            this.step = step;
            this.what = what;
            this.response = response;
        }

        /** "step 2 (POST 40): 400 Bad Request: {...}". */
        String where() {
            return "step " + step + " (" + what + "): " + getMessage();
        }
    }

    private final Wire wire;
    private final EngineIo eio;
    private final Duration timeout;
    /** Null: this client keeps no cookies. */
    private final Map<String, String> jar;
    /** Synchronized: an EIO=3 ping cycle posts its ping while a poll waits on another thread. */
    private final List<Step> steps = java.util.Collections.synchronizedList(new ArrayList<>());
    private final List<String> handshakeCookies = new ArrayList<>();
    private EngineIo.Open open;

    Client(Wire wire, EngineIo eio, boolean keepCookies, Duration timeout) {
        this.wire = wire;
        this.eio = eio;
        this.timeout = timeout;
        this.jar = keepCookies ? new LinkedHashMap<>() : null;
    }

    EngineIo eio() {
        return eio;
    }

    List<Step> steps() {
        return steps;
    }

    /** The Set-Cookie fields of the handshake's response, whether or not this client keeps them. */
    List<String> handshakeCookies() {
        return handshakeCookies;
    }

    EngineIo.Open open() {
        return open;
    }

    /** GET without sid: the open packet. */
    EngineIo.Open handshake() throws StepFailed {
        String what = "GET handshake";
        HttpResponse r = send("GET", eio.target(wire.endpoint().path(), "polling", null), null, what, timeout);
        handshakeCookies.addAll(r.all("Set-Cookie"));
        expectOk(r, what);
        List<String> packets = packets(r, what);
        EngineIo.Open o = packets.isEmpty() ? null : EngineIo.open(packets.get(0));
        if (o == null) {
            throw fail(Failure.UNEXPECTED, what, "no open packet: " + EngineIo.cut(r.text()), r);
        }
        open = o;
        ok(what, r.status() + ", sid " + o.sid());
        return o;
    }

    /** POST of {@code packets} on the polling transport; the server answers "ok". */
    void post(String... packets) throws StepFailed {
        String what = "POST " + String.join(",", packets);
        HttpResponse r = send("POST", eio.target(wire.endpoint().path(), "polling", open.sid()),
                eio.encode(packets), what, timeout);
        expectOk(r, what);
        ok(what, r.status() + " " + EngineIo.cut(r.text()));
    }

    /** One GET on the polling transport, held by the server up to {@code hold}: the packets it brought. */
    List<String> poll(Duration hold) throws StepFailed {
        String what = "GET poll";
        HttpResponse r = send("GET", eio.target(wire.endpoint().path(), "polling", open.sid()), null, what, hold);
        expectOk(r, what);
        List<String> packets = packets(r, what);
        ok(what, r.status() + " " + EngineIo.cut(r.text()) + " after " + r.millis() + " ms");
        return packets;
    }

    /** Polls until a packet starting with {@code prefix} comes. */
    void pollFor(String prefix) throws StepFailed {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (String p : poll(timeout)) {
                if (p.startsWith(prefix)) {
                    return;
                }
            }
        }
        throw fail(Failure.UNEXPECTED, "GET poll", "no " + prefix + " packet within " + timeout.toSeconds() + " s", null);
    }

    /**
     * The upgrade request; on 101 with the fields RFC 6455 asks for, the open WebSocket. With no
     * sid (before a handshake), a WebSocket-only session.
     */
    WebSocket upgrade() throws StepFailed {
        String sid = open == null ? null : open.sid();
        String what = "GET upgrade to WebSocket";
        Map<String, String> h = new LinkedHashMap<>();
        cookies(h);
        Wire.Upgraded u;
        try {
            u = wire.upgrade(eio.target(wire.endpoint().path(), "websocket", sid), h, timeout);
        } catch (IOException e) {
            throw fail(Failure.NO_ANSWER, what, describe(e), null);
        }
        HttpResponse r = u.response();
        remember(r);
        if (r.status() != 101) {
            throw fail(r.sessionUnknown() ? Failure.SESSION_UNKNOWN : Failure.UNEXPECTED, what,
                    r.brief() + " instead of 101", r);
        }
        List<String> missing = new ArrayList<>();
        if (!r.lists("Upgrade", "websocket")) {
            missing.add("Upgrade: websocket");
        }
        if (!r.lists("Connection", "upgrade")) {
            missing.add("Connection: upgrade");
        }
        if (!WebSocket.accept(u.key()).equals(r.header("Sec-WebSocket-Accept"))) {
            missing.add("Sec-WebSocket-Accept matching the key");
        }
        if (!missing.isEmpty()) {
            u.socket().close();
            throw fail(Failure.UNEXPECTED, what, "101 without " + String.join(", ", missing), r);
        }
        ok(what, "101 in " + r.millis() + " ms");
        return u.socket();
    }

    void send(WebSocket ws, String packet) throws StepFailed {
        String what = "WebSocket send " + packet;
        try {
            ws.send(packet);
        } catch (IOException e) {
            throw fail(Failure.NO_ANSWER, what, describe(e), null);
        }
        ok(what, "sent");
    }

    /** Reads WebSocket messages until one starts with {@code prefix}, for at most {@code wait}. */
    String receive(WebSocket ws, String prefix, Duration wait) throws StepFailed {
        return receive(ws, "WebSocket receive " + prefix, m -> m.startsWith(prefix), wait);
    }

    /** Reads WebSocket messages until one {@code wanted}, for at most {@code wait}. */
    String receive(WebSocket ws, String what, java.util.function.Predicate<String> wanted, Duration wait)
            throws StepFailed {
        long deadline = System.nanoTime() + wait.toNanos();
        List<String> seen = new ArrayList<>();
        try {
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw new SocketTimeoutException("timed out");
                }
                String m = ws.receive(left);
                if (wanted.test(m)) {
                    ok(what, EngineIo.cut(m));
                    return m;
                }
                seen.add(EngineIo.cut(m));
            }
        } catch (IOException e) {
            throw fail(Failure.NO_ANSWER, what, describe(e) + (seen.isEmpty() ? "" : " (got " + seen + ")"), null);
        }
    }

    /** The open packet a WebSocket-only session starts with. */
    EngineIo.Open receiveOpen(WebSocket ws) throws StepFailed {
        String m = receive(ws, "0", timeout);
        EngineIo.Open o = EngineIo.open(m);
        if (o == null) {
            throw fail(Failure.UNEXPECTED, "WebSocket open packet", "not an open packet: " + EngineIo.cut(m), null);
        }
        open = o;
        return o;
    }

    /** The session's end, best effort: a close packet, so the server does not wait out a ping timeout. */
    void closePolling() {
        try {
            wire.request("POST", eio.target(wire.endpoint().path(), "polling", open.sid()), headers(true),
                    eio.encode("1"), timeout);
        } catch (IOException | RuntimeException ignored) {
            // a session the server already dropped needs no close
        }
    }

    StepFailed fail(Failure f, String what, String detail, HttpResponse r) {
        steps.add(new Step(what, detail, false));
        return new StepFailed(f, steps.size(), what, detail, r);
    }

    private HttpResponse send(String method, String target, String body, String what, Duration readTimeout)
            throws StepFailed {
        HttpResponse r;
        try {
            r = wire.request(method, target, headers(body != null), body, readTimeout);
        } catch (IOException e) {
            throw fail(Failure.NO_ANSWER, what, describe(e), null);
        }
        remember(r);
        return r;
    }

    private void expectOk(HttpResponse r, String what) throws StepFailed {
        if (r.sessionUnknown()) {
            throw fail(Failure.SESSION_UNKNOWN, what, r.brief(), r);
        }
        if (r.status() != 200) {
            throw fail(Failure.UNEXPECTED, what, r.brief(), r);
        }
    }

    private List<String> packets(HttpResponse r, String what) throws StepFailed {
        try {
            return eio.decode(r.text());
        } catch (IllegalArgumentException e) {
            throw fail(Failure.UNEXPECTED, what, e.getMessage(), r);
        }
    }

    private Map<String, String> headers(boolean body) {
        Map<String, String> h = new LinkedHashMap<>();
        if (body) {
            h.put("Content-Type", "text/plain;charset=UTF-8");
        }
        cookies(h);
        return h;
    }

    private void cookies(Map<String, String> h) {
        if (jar == null || jar.isEmpty()) {
            return;
        }
        StringBuilder b = new StringBuilder();
        jar.forEach((k, v) -> b.append(b.length() == 0 ? "" : "; ").append(k).append('=').append(v));
        h.put("Cookie", b.toString());
    }

    private void remember(HttpResponse r) {
        if (jar == null) {
            return;
        }
        for (String c : r.all("Set-Cookie")) {
            Cookie k = Cookie.parse(c);
            // as a browser: a Secure cookie does not come back over plain HTTP
            if (k == null || k.secure() && !wire.endpoint().tls()) {
                continue;
            }
            if (k.expired()) {
                jar.remove(k.name());
            } else {
                jar.put(k.name(), k.value());
            }
        }
    }

    private void ok(String what, String outcome) {
        steps.add(new Step(what, outcome, true));
    }

    static String describe(IOException e) {
        if (e instanceof SocketTimeoutException) {
            return "no answer (timed out)";
        }
        if (e instanceof WebSocket.Closed c) {
            return c.code == 1006 ? "connection closed" : "WebSocket " + c.getMessage();
        }
        if (e instanceof java.net.ConnectException || e instanceof java.net.UnknownHostException) {
            return "cannot connect: " + e.getMessage();
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
