package fulcrum.diagnose;

import java.util.List;

/** What to change, for each balancer the diagnosis knows, per problem. */
final class Fixes {
    private Fixes() {
    }

    static final List<String> STICKINESS = List.of(
            "Fulcrum: target-groups.NAME.stickiness { enabled = true, type = lb-cookie-and-engine-io }",
            "HAProxy: in the backend, cookie SERVERID insert indirect nocache, and cookie s1 (s2, ...) on each server line",
            "nginx:   in the upstream, ip_hash;  (hash $arg_sid does not work: the handshake has no sid yet)",
            "ALB:     target group attribute stickiness.enabled = true, stickiness.type = lb_cookie");

    static final List<String> COOKIELESS = List.of(
            "clients that keep no cookies (Node.js, Java, mobile, load tools) get \"Session ID unknown\"; browsers are fine",
            "Fulcrum: stickiness.type = lb-cookie-and-engine-io (the cookie, else the Engine.IO sid)",
            "HAProxy: also stick on the sid, learnt from the handshake's body:",
            "           stick-table type string len 64 size 1m expire 1h",
            "           http-response wait-for-body time 2s if { res.hdr(content-type) -m beg text/plain }",
            "           stick on url_param(sid)",
            "           stick store-response res.body,field(4,'\\\"') if { res.body -m sub sid }",
            "nginx:   ip_hash;",
            "ALB:     no sid stickiness: such clients connect with transports: ['websocket'] (one connection, no stickiness needed)");

    static final List<String> UPGRADE = List.of(
            "Fulcrum: upgrades pass on every listener; check that no rule answers the Socket.IO path itself",
            "HAProxy: mode http in frontend and backend, and no rule deleting the Upgrade or Connection field",
            "nginx:   proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";",
            "ALB:     an HTTP or HTTPS listener (WebSockets are on by default); CloudFront or a WAF in front must let them through");

    static List<String> longPoll(long needSeconds) {
        return List.of(
                "a long-poll is held until the server's next ping: every timeout on the way must be over " + needSeconds + " s",
                "Fulcrum: target-groups.NAME.response-timeout = " + needSeconds + "s or more",
                "HAProxy: timeout server " + needSeconds + "s (and timeout client)",
                "nginx:   proxy_read_timeout " + needSeconds + "s;",
                "ALB:     load balancer attribute idle_timeout.timeout_seconds = " + needSeconds);
    }

    static List<String> idle(long needSeconds) {
        return List.of(
                "a WebSocket is quiet between pings: every idle timeout on the way must be over " + needSeconds + " s",
                "Fulcrum: listeners[].idle-timeout = " + needSeconds + "s or more",
                "HAProxy: timeout tunnel 1h (else timeout client/server apply to WebSockets)",
                "nginx:   proxy_read_timeout " + needSeconds + "s; proxy_send_timeout " + needSeconds + "s;",
                "ALB:     load balancer attribute idle_timeout.timeout_seconds = " + needSeconds);
    }

    static final List<String> CORS = List.of(
            "Socket.IO server: new Server(httpServer, { cors: { origin: [\"https://your.site\"], credentials: true } })",
            "the balancer must pass OPTIONS through: a rule that answers OPTIONS itself (nginx return 204, an ALB fixed response) "
                    + "must send the same Access-Control-* fields");

    static final List<String> TLS = List.of(
            "Fulcrum: listeners[].tls.certificates = [{ cert = \"site.crt\" (certificate, then its chain), key = \"site.key\" }]",
            "HAProxy: bind :443 ssl crt /etc/haproxy/site.pem (certificate, chain and key in one file)",
            "nginx:   ssl_certificate with the full chain (fullchain.pem), ssl_certificate_key",
            "ALB:     the HTTPS listener's certificate (ACM) must cover the name clients use");

    static final List<String> ALPN = List.of(
            "Socket.IO clients speak HTTP/1.1 (WebSockets over HTTP/1.1): the listener must accept ALPN http/1.1",
            "HAProxy: bind ... alpn h2,http/1.1;  nginx: keep http/1.1 next to http2;  ALB/Fulcrum: http/1.1 is always offered");
}
