package fulcrum.diagnose;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code fulcrum diagnose URL}: plays Socket.IO clients against any endpoint (Fulcrum, ALB, nginx,
 * HAProxy, a bare server) and reports each check with its verdict and, on failure, the setting to
 * change. Exit status: 0 all passed (warnings allowed unless --strict), 1 a check failed, 2 usage.
 */
public final class Diagnose {
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    private Diagnose() {
    }

    /** The command line after "diagnose". */
    public static int run(String[] args, PrintStream out, PrintStream err, String version) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("fulcrum diagnose: " + e.getMessage());
            err.print(USAGE_TEXT);
            return USAGE;
        }
        if (o == null) {
            out.print(USAGE_TEXT);
            return OK;
        }
        return new Run(o, out, "fulcrum-diagnose/" + version).diagnose();
    }

    static final String USAGE_TEXT = """
            Usage: fulcrum diagnose [options] URL
              Plays Socket.IO clients against URL (Fulcrum, ALB, nginx, HAProxy or the server itself) and
              reports each check: PASS, WARN, FAIL (with the setting to change) or SKIP.
              URL             http://, https://, ws:// or wss://; its path, if any, is the Socket.IO path
              --path PATH     the Socket.IO path (the client's `path` option; default /socket.io/)
              --sessions N    sessions per kind of client (default 4, 1 to 32)
              --quick         ping cycle: stop at the first ping (a long-poll held pingInterval) instead
                              of two pings over pingInterval + pingTimeout
              --origin URL    the page origin for the CORS check; refusing it is then a failure
              --header 'N: V' an extra request field (repeatable), e.g. a token the server asks for
              --cacert FILE   trust these PEM certificates instead of the system's
              --insecure      go on after a TLS certificate failure (still reported)
              --strict        warnings count as failures
              --timeout DUR   wait for an ordinary answer (default 10s; e.g. 500ms, 30s)
            Exit status: 0 all checks passed, 1 a check failed, 2 usage error.
            """;

    record Options(String url, String path, int sessions, boolean quick, String origin, List<String[]> headers,
                   Path caCerts, boolean insecure, boolean strict, Duration timeout) {

        /** Null for --help. */
        static Options parse(String[] args) {
            String url = null;
            String path = null;
            int sessions = 4;
            boolean quick = false;
            String origin = null;
            List<String[]> headers = new ArrayList<>();
            Path caCerts = null;
            boolean insecure = false;
            boolean strict = false;
            Duration timeout = Duration.ofSeconds(10);
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--help", "-h" -> {
                        return null;
                    }
                    case "--quick" -> quick = true;
                    case "--insecure", "-k" -> insecure = true;
                    case "--strict" -> strict = true;
                    case "--path" -> path = value(args, ++i, a);
                    case "--origin" -> origin = value(args, ++i, a);
                    case "--sessions" -> {
                        String v = value(args, ++i, a);
                        try {
                            sessions = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            sessions = -1;
                        }
                        if (sessions < 1 || sessions > 32) {
                            throw new IllegalArgumentException("--sessions " + v + " (expected: 1 to 32)");
                        }
                    }
                    case "--header", "-H" -> {
                        String v = value(args, ++i, a);
                        int colon = v.indexOf(':');
                        if (colon <= 0 || v.substring(0, colon).isBlank() || v.contains("\r") || v.contains("\n")) {
                            throw new IllegalArgumentException("--header " + v + " (expected: 'Name: value')");
                        }
                        headers.add(new String[] {v.substring(0, colon).trim(), v.substring(colon + 1).trim()});
                    }
                    case "--cacert" -> {
                        caCerts = Path.of(value(args, ++i, a));
                        if (!Files.isReadable(caCerts)) {
                            throw new IllegalArgumentException("--cacert " + caCerts + ": not a readable file");
                        }
                    }
                    case "--timeout" -> timeout = duration(value(args, ++i, a));
                    default -> {
                        if (a.startsWith("-")) {
                            throw new IllegalArgumentException("unknown option '" + a + "'");
                        }
                        if (url != null) {
                            throw new IllegalArgumentException("one URL expected, got '" + url + "' and '" + a + "'");
                        }
                        url = a;
                    }
                }
            }
            if (url == null) {
                throw new IllegalArgumentException("no URL");
            }
            if (origin != null && !origin.matches("https?://[^/\\s]+")) {
                throw new IllegalArgumentException("--origin " + origin + " (expected: scheme://host[:port], no path)");
            }
            Endpoint.parse(url, path);
            return new Options(url, path, sessions, quick, origin, headers, caCerts, insecure, strict, timeout);
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static Duration duration(String v) {
            var m = java.util.regex.Pattern.compile("(\\d+)(ms|s)").matcher(v.trim().toLowerCase(Locale.ROOT));
            if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
                throw new IllegalArgumentException("--timeout " + v + " (expected: e.g. 500ms or 30s)");
            }
            long n = Long.parseLong(m.group(1));
            return m.group(2).equals("ms") ? Duration.ofMillis(n) : Duration.ofSeconds(n);
        }
    }

    /** One diagnosis: runs the checks in order, printing each as it ends. */
    private static final class Run {
        private final Options o;
        private final PrintStream out;
        private final Wire wire;
        private final List<Result> results = new ArrayList<>();
        /** Fixes already printed, with the check they were printed for. */
        private final java.util.Map<List<String>, String> fixesShown = new java.util.HashMap<>();

        Run(Options o, PrintStream out, String userAgent) {
            this.o = o;
            this.out = out;
            this.wire = new Wire(Endpoint.parse(o.url(), o.path()), o.timeout(), o.headers(), userAgent);
        }

        int diagnose() {
            out.println("fulcrum diagnose " + wire.endpoint() + "  (" + o.sessions() + " sessions per kind"
                        + (o.quick() ? ", quick" : "") + ")");
            out.println();
            if (wire.endpoint().tls()) {
                Result tls = report(new TlsCheck(wire, o.caCerts()).run());
                if (tls.verdict() == Result.Verdict.FAIL && !o.insecure()) {
                    out.println("stopped: the TLS check failed (--insecure goes on with the other checks)");
                    return summary();
                }
            }
            SessionChecks v4 = new SessionChecks(wire, 4, o.sessions(), o.timeout());
            SessionChecks v3 = new SessionChecks(wire, 3, o.sessions(), o.timeout());
            for (SessionChecks v : List.of(v4, v3)) {
                report(v.handshake());
                if (v.open() == null) {
                    continue;
                }
                v.polling().forEach(this::report);
                report(v.upgrades());
                report(v.webSocketOnly());
            }
            if (v4.open() == null && v3.open() == null) {
                out.println("stopped: no handshake succeeded");
                return summary();
            }
            pingCycles(List.of(v4, v3));
            report(new CorsCheck(wire, v4.open() != null ? 4 : 3, o.origin(), o.timeout()).run());
            return summary();
        }

        /** Every version's cycles at once: each waits on the server's clock, not on the machine. */
        private void pingCycles(List<SessionChecks> versions) {
            ExecutorService threads = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "diagnose-ping-cycle");
                t.setDaemon(true);
                return t;
            });
            try {
                List<CompletableFuture<List<Result>>> cycles = new ArrayList<>();
                long seconds = 0;
                for (SessionChecks v : versions) {
                    if (v.open() == null) {
                        continue;
                    }
                    PingCycle ping = new PingCycle(wire, v.version(), v.open(), o.quick(), !v.noCookiesWork(),
                            o.timeout(), threads);
                    seconds = Math.max(seconds, ping.expected().toSeconds());
                    cycles.add(ping.start(v.cookiesWork() || v.noCookiesWork(), v.webSocketOnlyWorks()));
                }
                out.println("  ....  ping cycles: up to " + seconds + " s" + (o.quick() ? "" : " (--quick: about half)"));
                out.flush();
                for (CompletableFuture<List<Result>> c : cycles) {
                    c.join().forEach(this::report);
                }
            } finally {
                threads.shutdownNow();
            }
        }

        private Result report(Result r) {
            results.add(r);
            out.printf(Locale.ROOT, "  %-4s  %s: %s%n", r.verdict(), r.title(), r.summary());
            for (String d : r.details()) {
                out.println("        " + d);
            }
            String same = fixesShown.putIfAbsent(r.fixes(), r.title());
            if (same != null && !r.fixes().isEmpty()) {
                out.println("  fix   as for " + same);
            } else {
                for (int i = 0; i < r.fixes().size(); i++) {
                    out.println((i == 0 ? "  fix   " : "        ") + r.fixes().get(i));
                }
            }
            out.flush();
            return r;
        }

        private int summary() {
            long failed = count(Result.Verdict.FAIL);
            long warned = count(Result.Verdict.WARN);
            out.println();
            out.printf(Locale.ROOT, "%d passed, %d warnings, %d failed, %d skipped%n",
                    count(Result.Verdict.PASS), warned, failed, count(Result.Verdict.SKIP));
            return failed > 0 || (o.strict() && warned > 0) ? FAILED : OK;
        }

        private long count(Result.Verdict v) {
            return results.stream().filter(r -> r.verdict() == v).count();
        }
    }
}
