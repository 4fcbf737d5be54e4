package fulcrum.admin;

import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The admin API's routes, run on the operations thread: JSON in, JSON out (the Prometheus text
 * format for /metrics). Refusals are 4xx with {"error": "..."} naming the problem.
 */
final class AdminApi {
    private static final String JSON = "application/json; charset=utf-8";
    private static final String PREFIX = "/target-groups/";

    private final Operations ops;
    private final Overview overview;

    AdminApi(Operations ops) {
        this.ops = ops;
        this.overview = new Overview(ops);
    }

    Operations ops() {
        return ops;
    }

    /** A request as the event loop read it: nothing here refers to a buffer. */
    record Call(String method, String uri, String body) {
        String path() {
            int q = uri.indexOf('?');
            return q < 0 ? uri : uri.substring(0, q);
        }
    }

    /** A response to write. */
    record Answer(int status, String contentType, byte[] body) {
        static Answer json(int status, CharSequence body) {
            return new Answer(status, JSON, body.toString().getBytes(StandardCharsets.UTF_8));
        }

        static Answer error(int status, String message) {
            return json(status, Json.error(message));
        }
    }

    Answer healthz(Call c) {
        if (ops.stopping()) {
            return Answer.json(503, "{\"status\":\"stopping\"}\n");
        }
        fulcrum.cluster.Cluster cluster = ops.cluster();
        if (cluster == null) {
            return Answer.json(200, "{\"status\":\"ok\"}\n");
        }
        // Still ok without Redis: the instance routes with what it knows, and should keep its traffic.
        StringBuilder b = new StringBuilder("{\"status\":\"ok\",\"cluster\":");
        return Answer.json(200, cluster(b, cluster).append("}\n"));
    }

    Answer handle(Call c) {
        try {
            return route(c);
        } catch (AdminException e) {
            return Answer.error(e.status(), e.getMessage());
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(AdminApi.class).error("admin API: {} {} failed", c.method(), c.path(), e);
            return Answer.error(500, e.toString());
        }
    }

    private Answer route(Call c) {
        String path = c.path();
        String m = c.method();
        switch (path) {
            case "/targets" -> {
                return only(m, "GET") ? targets() : notAllowed(m, path);
            }
            case "/metrics" -> {
                return only(m, "GET") ? new Answer(200, ops.metricsContentType(), ops.scrape()) : notAllowed(m, path);
            }
            case "/overview" -> {
                return only(m, "GET") ? Answer.json(200, overview.json()) : notAllowed(m, path);
            }
            case "/state-changes" -> {
                return only(m, "GET") ? stateChanges() : notAllowed(m, path);
            }
            case "/reload" -> {
                return only(m, "POST") ? reload() : notAllowed(m, path);
            }
            case "/healthz" -> {
                return healthz(c);
            }
            default -> {
            }
        }
        if (path.startsWith(PREFIX)) {
            String[] parts = path.substring(PREFIX.length()).split("/", -1);
            if (parts.length == 2 && parts[1].equals("targets")) {
                return only(m, "POST") ? register(decode(parts[0]), c.body()) : notAllowed(m, path);
            }
            if (parts.length == 3 && parts[1].equals("targets")) {
                if (!only(m, "DELETE")) {
                    return notAllowed(m, path);
                }
                Target t = ops.deregister(decode(parts[0]), decode(parts[2]));
                return Answer.json(202, target(new StringBuilder(), t).append('\n'));
            }
        }
        return Answer.error(404, "no such resource: " + path);
    }

    private static boolean only(String method, String allowed) {
        return method.equals(allowed);
    }

    private static Answer notAllowed(String method, String path) {
        return Answer.error(405, "method " + method + " not allowed on " + path);
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new AdminException(400, "malformed percent-encoding in '" + s + "'");
        }
    }

    private Answer register(String group, String body) {
        Object parsed;
        try {
            parsed = Json.parse(body);
        } catch (IllegalArgumentException e) {
            throw new AdminException(400, "body: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> obj)) {
            throw new AdminException(400, "body: expected an object {\"target\": \"host:port\"}");
        }
        for (Object k : obj.keySet()) {
            if (!k.equals("target") && !k.equals("weight")) {
                throw new AdminException(400, "body: unknown member \"" + k + "\" (expected target, weight)");
            }
        }
        if (!(obj.get("target") instanceof String address)) {
            throw new AdminException(400, "target: expected a string \"host:port\"");
        }
        int weight = 1;
        if (obj.containsKey("weight")) {
            if (!(obj.get("weight") instanceof Long w) || w < 0 || w > 999) {
                throw new AdminException(400, "weight: expected an integer between 0 and 999");
            }
            weight = w.intValue();
        }
        Target t = ops.register(group, address, weight);
        return Answer.json(201, target(new StringBuilder(), t).append('\n'));
    }

    private Answer reload() {
        Operations.ReloadResult r = ops.reload();
        StringBuilder b = new StringBuilder("{\"reloaded\":").append(r.ok());
        if (!r.ok()) {
            b.append(",\"error\":");
            Json.quote(b, r.error());
        }
        b.append(",\"applied\":");
        strings(b, r.applied());
        b.append(",\"need_restart\":");
        strings(b, r.needRestart());
        b.append("}\n");
        return Answer.json(r.ok() ? 200 : 400, b);
    }

    private Answer targets() {
        fulcrum.cluster.Cluster cluster = ops.cluster();
        StringBuilder b = new StringBuilder("{\"target_groups\":[");
        boolean firstGroup = true;
        for (TargetGroup g : ops.balancer().targetGroups().values()) {
            b.append(firstGroup ? "" : ",").append("{\"name\":");
            firstGroup = false;
            Json.quote(b, g.name());
            b.append(",\"deregistration_delay_seconds\":").append(g.settings().deregistrationDelay().toMillis() / 1000.0)
             .append(",\"fail_open\":").append(g.snapshot().failOpen()).append(",\"targets\":[");
            boolean first = true;
            Map<Target, Integer> sessions = g.engineIo().countByTarget(System.nanoTime());
            for (Target t : g.snapshot().all()) {
                b.append(first ? "{" : ",{");
                first = false;
                targetFields(b, t);
                overview.live(b, g, t, sessions, false);
                if (cluster != null) {
                    clusterOf(b, cluster, g.name(), t);
                }
                b.append('}');
            }
            b.append("]}");
        }
        if (cluster != null) {
            b.append("],\"cluster\":");
            cluster(b, cluster).setLength(b.length() - 1);
            b.append(",\"overlay\":[");
            boolean first = true;
            for (fulcrum.cluster.OverlayEntry e : cluster.overlay()) {
                b.append(first ? "" : ",").append("{\"target_group\":");
                first = false;
                Json.quote(b, e.group());
                b.append(",\"target\":");
                Json.quote(b, e.target());
                b.append(",\"op\":");
                Json.quote(b, e.op().label());
                b.append(",\"weight\":").append(e.weight()).append(",\"at\":");
                Json.quote(b, java.time.Instant.ofEpochMilli(e.at()).toString());
                b.append(",\"by\":");
                Json.quote(b, e.by());
                b.append('}');
            }
            return Answer.json(200, b.append("]}}\n"));
        }
        return Answer.json(200, b.append("]}\n"));
    }

    /** Whether the target is in the overlay (registered through the admin API), and the other instances' views of it. */
    private static void clusterOf(StringBuilder b, fulcrum.cluster.Cluster cluster, String group, Target t) {
        String op = null;
        for (fulcrum.cluster.OverlayEntry e : cluster.overlay()) {
            if (e.group().equals(group) && e.target().equals(t.id())) {
                op = e.op().label();
            }
        }
        b.append(",\"source\":");
        Json.quote(b, op == null ? "file" : "overlay (" + op + ")");
        b.append(",\"peer_states\":{");
        boolean first = true;
        for (Map.Entry<String, Map<String, String>> peer : cluster.peerViews().entrySet()) {
            String state = peer.getValue().get(group + "/" + t.id());
            if (state != null) {
                b.append(first ? "" : ",");
                first = false;
                Json.quote(b, peer.getKey());
                b.append(':');
                Json.quote(b, state);
            }
        }
        b.append('}');
    }

    /** The cluster's state as one JSON object. */
    private static StringBuilder cluster(StringBuilder b, fulcrum.cluster.Cluster c) {
        b.append("{\"instance\":");
        Json.quote(b, c.instanceId());
        b.append(",\"redis\":");
        Json.quote(b, c.redisUp() ? "up" : "down");
        b.append(",\"since\":");
        Json.quote(b, c.redisSince().toString());
        if (!c.redisUp()) {
            b.append(",\"error\":");
            Json.quote(b, c.redisLastError());
        }
        b.append(",\"peers\":");
        strings(b, List.copyOf(c.peerViews().keySet()));
        return b.append('}');
    }

    private Answer stateChanges() {
        StringBuilder b = new StringBuilder("{\"state_changes\":");
        Overview.stateChanges(b, ops.stateLog().recent());
        return Answer.json(200, b.append("}\n"));
    }

    private static StringBuilder target(StringBuilder b, Target t) {
        return targetFields(b.append('{'), t).append('}');
    }

    /** The members of a target's object that need no live counting, without the braces. */
    static StringBuilder targetFields(StringBuilder b, Target t) {
        b.append("\"target\":");
        Json.quote(b, t.id());
        b.append(",\"weight\":").append(t.weight()).append(",\"state\":");
        Json.quote(b, t.state().label());
        b.append(",\"reason\":");
        Json.quote(b, t.reason());
        b.append(",\"since\":");
        Json.quote(b, t.since().toString());
        lastCheck(b.append(",\"last_check\":"), t.lastCheck());
        return b.append(",\"open_connections\":").append(t.openConnections()).append(",\"tunnels\":")
                .append(t.tunnels()).append(",\"outstanding_requests\":").append(t.outstandingRequests())
                .append(",\"requests_served\":").append(t.requestsServed())
                .append(",\"ejected\":").append(t.ejected(System.nanoTime()))
                .append(",\"ejected_for_seconds\":").append(t.ejectionLeft(System.nanoTime()).toMillis() / 1000.0)
                .append(",\"ejections\":").append(t.ejections());
    }

    /** The latest check, which may fail (or pass) for another reason than the state's change did. */
    private static void lastCheck(StringBuilder b, Target.Check c) {
        if (c == null) {
            b.append("null");
            return;
        }
        b.append("{\"passed\":").append(c.passed()).append(",\"reason\":");
        Json.quote(b, c.reason());
        b.append(",\"at\":");
        Json.quote(b, c.at().toString());
        b.append('}');
    }

    private static void strings(StringBuilder b, List<String> list) {
        b.append('[');
        for (int i = 0; i < list.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            Json.quote(b, list.get(i));
        }
        b.append(']');
    }
}
