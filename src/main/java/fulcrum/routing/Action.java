package fulcrum.routing;

import fulcrum.balance.TargetGroup;
import fulcrum.config.ActionSettings;
import fulcrum.proxy.RouteDecision;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/** What a matched rule does with a request; built once from the settings. */
interface Action {

    RouteDecision decide(RequestFacts r);

    /** A description for the start-up log. */
    String describe();

    /** {@code secret}: the cookie key of group-level stickiness when the settings name none. */
    static Action compile(ActionSettings s, Map<String, TargetGroup> groups, boolean tls, byte[] secret) {
        if (s instanceof ActionSettings.Forward f) {
            if (f.targetGroups().size() == 1 && f.stickiness() == null) {
                return new Fixed(RouteDecision.forward(groups.get(f.targetGroups().get(0).name())),
                                 "forward to " + f.targetGroups().get(0).name());
            }
            return new Weighted(f, groups, tls, secret);
        }
        if (s instanceof ActionSettings.Redirect r) {
            return new Redirect(r, tls);
        }
        ActionSettings.FixedResponse fr = (ActionSettings.FixedResponse) s;
        return new Fixed(RouteDecision.respond(fr.status(), fr.contentType(), fr.body()),
                         "fixed-response " + fr.status());
    }

    /** {@code a} as the action of the rule of {@code priority}, whose decisions say so. */
    static Action atPriority(Action a, int priority) {
        if (a instanceof Fixed f) {
            return new Fixed(f.decision().atPriority(priority), f.describe());
        }
        return new Action() {
            @Override
            public RouteDecision decide(RequestFacts r) {
                RouteDecision d = a.decide(r);
                return d == null ? null : d.atPriority(priority);
            }

            @Override
            public String describe() {
                return a.describe();
            }
        };
    }

    /** The same decision for every request. */
    record Fixed(RouteDecision decision, String describe) implements Action {
        @Override
        public RouteDecision decide(RequestFacts r) {
            return decision;
        }
    }

    /**
     * Forward spread over groups by weight. With stickiness, a client with a valid cookie stays
     * in its group (whatever its weight is now: a blue/green switch moves new sessions only).
     */
    final class Weighted implements Action {
        private final TargetGroup[] groups;
        private final RouteDecision[] decisions;
        private final int[] cumulative;
        private final long[] tokens;
        private final GroupCookie cookie;
        private final boolean forwardCookie;
        private final String describe;

        Weighted(ActionSettings.Forward f, Map<String, TargetGroup> byName, boolean tls, byte[] secret) {
            int n = f.targetGroups().size();
            groups = new TargetGroup[n];
            decisions = new RouteDecision[n];
            cumulative = new int[n];
            tokens = new long[n];
            cookie = f.stickiness() == null ? null
                     : new GroupCookie(f.cookieName(), f.stickiness(),
                                       f.secret() != null ? f.secret().getBytes(java.nio.charset.StandardCharsets.UTF_8)
                                                          : secret, tls);
            forwardCookie = f.forwardCookie();
            List<String> parts = new ArrayList<>();
            int total = 0;
            for (int i = 0; i < n; i++) {
                ActionSettings.WeightedGroup g = f.targetGroups().get(i);
                groups[i] = byName.get(g.name());
                decisions[i] = RouteDecision.forward(groups[i]);
                total += g.weight();
                cumulative[i] = total;
                tokens[i] = cookie == null ? 0 : cookie.token(g.name());
                parts.add(g.name() + " " + g.weight());
            }
            describe = "forward to " + String.join(", ", parts)
                       + (cookie == null ? "" : " (sticky for " + f.stickiness() + ")");
        }

        @Override
        public RouteDecision decide(RequestFacts r) {
            if (cookie == null) {
                return decisions[pick()];
            }
            long now = System.currentTimeMillis();
            int m = cookie.match(r.request.headers(), tokens, now);
            if (!forwardCookie) {
                cookie.strip(r.request.headers());
            }
            if (m >= 0 && m < GroupCookie.RENEW) {
                return decisions[m];
            }
            int i = m >= 0 ? m - GroupCookie.RENEW : pick();
            return RouteDecision.forward(groups[i], cookie.setCookie(tokens[i], now));
        }

        private int pick() {
            int x = ThreadLocalRandom.current().nextInt(cumulative[cumulative.length - 1]);
            for (int i = 0; i < cumulative.length; i++) {
                if (x < cumulative[i]) {
                    return i;
                }
            }
            return cumulative.length - 1;
        }

        @Override
        public String describe() {
            return describe;
        }
    }

    /** A redirect built from the request by the settings' templates. */
    final class Redirect implements Action {
        private final int status;
        private final boolean tls;
        private final String protocol;
        private final String[] host;
        private final String port;
        private final String[] path;
        private final String[] query;
        private final String describe;

        Redirect(ActionSettings.Redirect s, boolean tls) {
            this.status = s.status();
            this.tls = tls;
            this.protocol = s.protocol();
            this.host = split(s.host());
            this.port = s.port();
            this.path = split(s.path());
            this.query = split(s.query());
            this.describe = "redirect " + s.status() + " to " + s.protocol() + "://" + s.host() + ":" + s.port()
                            + s.path() + "?" + s.query();
        }

        /** Literal text and template names alternate: even indexes literal, odd indexes names. */
        private static String[] split(String template) {
            List<String> out = new ArrayList<>();
            int i = 0;
            int t;
            while ((t = template.indexOf("#{", i)) >= 0) {
                int end = template.indexOf('}', t);
                out.add(template.substring(i, t));
                out.add(template.substring(t + 2, end));
                i = end + 1;
            }
            out.add(template.substring(i));
            return out.toArray(new String[0]);
        }

        @Override
        public RouteDecision decide(RequestFacts r) {
            String requestProtocol = tls ? "https" : "http";
            String toProtocol = protocol.equals("#{protocol}") ? requestProtocol : protocol;
            StringBuilder b = new StringBuilder(64).append(toProtocol).append("://");
            append(b, host, r, requestProtocol);
            String toPort = port.equals("#{port}") ? requestPort(r) : port;
            if (toPort != null && !toPort.equals(toProtocol.equals("https") ? "443" : "80")) {
                b.append(':').append(toPort);
            }
            append(b, path, r, requestProtocol);
            int queryStart = b.length();
            b.append('?');
            append(b, query, r, requestProtocol);
            if (b.length() == queryStart + 1) {
                b.setLength(queryStart);
            }
            return RouteDecision.redirect(status, b.toString());
        }

        /** The port the client named in its Host header, or null when it named none. */
        private static String requestPort(RequestFacts r) {
            return r.portStart() < 0 ? null : r.hostHeader().substring(r.portStart());
        }

        private static void append(StringBuilder b, String[] parts, RequestFacts r, String requestProtocol) {
            for (int i = 0; i < parts.length; i++) {
                if ((i & 1) == 0) {
                    b.append(parts[i]);
                    continue;
                }
                switch (parts[i]) {
                    case "protocol" -> b.append(requestProtocol);
                    case "host" -> {
                        String h = r.hostHeader();
                        if (h != null) {
                            b.append(h, 0, r.hostEnd());
                        }
                    }
                    case "port" -> {
                        String p = requestPort(r);
                        b.append(p != null ? p : requestProtocol.equals("https") ? "443" : "80");
                    }
                    case "path" -> {
                        int from = r.pathStart();
                        String uri = r.uri();
                        b.append(uri, from < r.pathEnd() && uri.charAt(from) == '/' ? from + 1 : from, r.pathEnd());
                    }
                    case "query" -> {
                        if (r.queryStart() >= 0) {
                            b.append(r.uri(), r.queryStart(), r.uri().length());
                        }
                    }
                    default -> throw new IllegalStateException("unknown template " + parts[i]);
                }
            }
        }

        @Override
        public String describe() {
            return describe;
        }
    }
}
