package fulcrum.diagnose;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whether a page of another origin may use the endpoint: the preflight (OPTIONS) a browser sends
 * before a polling POST, and the handshake's own Access-Control fields, with credentials (the
 * cookies that carry a balancer's stickiness across origins). Only the operator knows whether
 * pages of other origins are meant to connect: without {@code --origin} a refusal is a warning.
 */
final class CorsCheck {
    private final Wire wire;
    private final EngineIo eio;
    private final String origin;
    private final boolean originGiven;
    private final Duration timeout;

    CorsCheck(Wire wire, int version, String origin, Duration timeout) {
        this.wire = wire;
        this.eio = new EngineIo(version);
        this.originGiven = origin != null;
        this.origin = origin != null ? origin : "https://diagnose.invalid";
        this.timeout = timeout;
    }

    Result run() {
        String title = "CORS from " + origin;
        List<String> problems = new ArrayList<>();
        List<String> details = new ArrayList<>();
        try {
            Map<String, String> pre = new LinkedHashMap<>();
            pre.put("Origin", origin);
            pre.put("Access-Control-Request-Method", "POST");
            pre.put("Access-Control-Request-Headers", "content-type");
            HttpResponse p = wire.request("OPTIONS", eio.target(wire.endpoint().path(), "polling", null), pre, null, timeout);
            details.add("preflight OPTIONS: " + p.status() + allowFields(p));
            if (p.status() < 200 || p.status() > 299) {
                problems.add("preflight answered " + p.brief());
            } else {
                judge(p, "preflight", problems);
                String methods = p.header("Access-Control-Allow-Methods");
                if (methods != null && !p.lists("Access-Control-Allow-Methods", "POST") && !methods.contains("*")) {
                    problems.add("preflight does not allow POST (" + methods + ")");
                }
            }
            Map<String, String> get = new LinkedHashMap<>();
            get.put("Origin", origin);
            HttpResponse g = wire.request("GET", eio.target(wire.endpoint().path(), "polling", null), get, null, timeout);
            details.add("handshake GET: " + g.status() + allowFields(g));
            closeSession(g);
            judge(g, "handshake", problems);
            for (String sc : g.all("Set-Cookie")) {
                Cookie k = Cookie.parse(sc);
                if (k != null && originGiven && !("None".equalsIgnoreCase(k.sameSite()) && k.secure())) {
                    details.add("cookie " + k.name() + " is not SameSite=None; Secure: a browser on another site "
                                + "does not send it back (ALB's AWSALBCORS exists for this)");
                }
            }
        } catch (IOException e) {
            return Result.fail(title, Client.describe(e), details, List.of());
        }
        if (problems.isEmpty()) {
            return Result.pass(title, "preflight and handshake allow the origin, with credentials", details);
        }
        details.addAll(0, problems);
        String summary = "a page from " + origin + " cannot poll" + (originGiven ? "" : " (fine when pages come from "
                + wire.endpoint().origin() + " itself; --origin makes this a failure)");
        return originGiven ? Result.fail(title, summary, details, Fixes.CORS) : Result.warn(title, summary, details, Fixes.CORS);
    }

    private void judge(HttpResponse r, String what, List<String> problems) {
        String allow = r.header("Access-Control-Allow-Origin");
        if (allow == null) {
            problems.add(what + ": no Access-Control-Allow-Origin");
        } else if (!allow.equals(origin) && !allow.equals("*")) {
            problems.add(what + ": Access-Control-Allow-Origin " + allow);
        } else if (allow.equals("*")) {
            problems.add(what + ": Access-Control-Allow-Origin * forbids credentials, so no cookies (and no cookie stickiness)");
        } else if (!"true".equalsIgnoreCase(r.header("Access-Control-Allow-Credentials"))) {
            problems.add(what + ": no Access-Control-Allow-Credentials: true (withCredentials clients, cookie stickiness)");
        }
    }

    private static String allowFields(HttpResponse r) {
        StringBuilder b = new StringBuilder();
        for (String[] h : r.headers()) {
            if (h[0].toLowerCase(java.util.Locale.ROOT).startsWith("access-control-")) {
                b.append(b.length() == 0 ? " (" : "; ").append(h[0]).append(": ").append(h[1]);
            }
        }
        return b.length() == 0 ? ", no Access-Control fields" : b.append(')').toString();
    }

    private void closeSession(HttpResponse g) {
        if (g.status() != 200) {
            return;
        }
        try {
            List<String> packets = eio.decode(g.text());
            EngineIo.Open o = packets.isEmpty() ? null : EngineIo.open(packets.get(0));
            if (o != null) {
                Map<String, String> h = new LinkedHashMap<>();
                h.put("Content-Type", "text/plain;charset=UTF-8");
                wire.request("POST", eio.target(wire.endpoint().path(), "polling", o.sid()), h, eio.encode("1"), timeout);
            }
        } catch (IOException | RuntimeException ignored) {
            // the session times out on the server by itself
        }
    }
}
