package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import fulcrum.testing.WsEchoBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The files docker/compose.yml starts: the compose file itself as Compose v1 (Debian's
 * docker-compose, which checks a file without `version` against the Compose Specification's
 * schema) reads it, and the Grafana dashboard, whose every query must name metrics and labels that
 * a real Fulcrum's /metrics has, and must run in a real Prometheus (Debian's) scraping that
 * Fulcrum with the committed docker/prometheus.yml.
 */
class MonitoringFilesTest {
    private static final Path DASHBOARD = Path.of("docker/grafana/dashboards/fulcrum.json");
    private static final Pattern METRIC = Pattern.compile("\\b((?:fulcrum|jvm|process)_[a-z_]+)\\b");
    private static final Pattern BY = Pattern.compile("by \\(([^)]*)\\)");
    private static final Pattern MATCHER = Pattern.compile("([a-z_]+)(?:=~|!=|=)\"");

    @TempDir
    Path dir;

    private Process prometheus;

    @AfterEach
    void stopPrometheus() throws InterruptedException {
        if (prometheus != null) {
            prometheus.destroy();
            if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly();
            }
        }
    }

    @Test
    void composeFileIsValidForComposeV1AndTheComposeSpecification() throws Exception {
        assertEquals("", run(List.of("docker-compose", "-f", "docker/compose.yml", "config", "-q")).trim());
        String services = run(List.of("docker-compose", "-f", "docker/compose.yml", "--profile", "monitoring",
                                      "config", "--services"));
        assertEquals(Set.of("redis", "chat-1", "chat-2", "fulcrum", "prometheus", "grafana"),
                     Set.copyOf(services.lines().map(String::trim).filter(s -> !s.isEmpty()).toList()));
        // Opt-in: the two monitoring services, and only they, are in the profile.
        String model = run(List.of("docker-compose", "-f", "docker/compose.yml", "config"));
        assertEquals(2, model.split("- monitoring\n", -1).length - 1, model);
        for (String service : List.of("grafana", "prometheus")) {
            String block = model.substring(model.indexOf("\n  " + service + ":\n"));
            block = block.substring(0, nextService(block));
            assertTrue(block.contains("profiles:\n    - monitoring"), block);
        }
        for (String f : List.of("docker/prometheus.yml", "docker/fulcrum.compose.conf",
                                "docker/grafana/provisioning/datasources/prometheus.yml",
                                "docker/grafana/provisioning/dashboards/fulcrum.yml", DASHBOARD.toString())) {
            assertTrue(Files.isRegularFile(Path.of(f)), f + " is mounted by compose.yml");
        }
        assertTrue(run(List.of("promtool", "check", "config", "--syntax-only", "docker/prometheus.yml"))
                           .contains("SUCCESS"));
    }

    /**
     * Compose v2 is not packaged for Debian 12; it reads a file by the Compose Specification's JSON
     * schema (compose-go), which dclint (npm) checks too. Only its schema rule is judged here (the
     * others are style); a copy with a key the schema lacks shows the check can fail.
     */
    @Test
    void composeFileMatchesTheComposeSpecificationSchema() throws Exception {
        Path dclint = Path.of("src/test/compose/node_modules/.bin/dclint");
        assertTrue(Files.isExecutable(dclint), "scripts/setup-test-deps installs " + dclint);
        assertEquals(List.of(), schemaErrors(dclint, Path.of("docker/compose.yml")));
        Path broken = dir.resolve("compose.yml");
        Files.writeString(broken, Files.readString(Path.of("docker/compose.yml"))
                .replace("\n  grafana:\n", "\n  grafana:\n    publish_everywhere: true\n"));
        List<String> errors = schemaErrors(dclint, broken);
        assertEquals(1, errors.size(), errors.toString());
        assertTrue(errors.get(0).contains("must NOT have additional properties"), errors.get(0));
    }

    /** dclint's messages of its schema rule for {@code file} (it exits 1 on style findings too). */
    private static List<String> schemaErrors(Path dclint, Path file) throws Exception {
        Process p = new ProcessBuilder(dclint.toAbsolutePath().toString(), "-f", "json", "--color", "false",
                                       file.toAbsolutePath().toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "dclint ended");
        assertTrue(out.trim().startsWith("["), "dclint's JSON report: " + out);
        List<String> errors = new ArrayList<>();
        Matcher m = Pattern.compile("\"rule\": \"invalid-schema\",[^}]*?\"message\": \"((?:[^\"\\\\]|\\\\.)*)\"")
                .matcher(out);
        while (m.find()) {
            errors.add(m.group(1));
        }
        return errors;
    }

    @Test
    void everyDashboardQueryNamesRealMetricsAndRunsInPrometheus() throws Exception {
        List<String> exprs = dashboardQueries();
        assertTrue(exprs.size() >= 20, "queries: " + exprs.size());
        String token = "monitoring-test-token-0123456789";
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        try (HttpBackend a = HttpBackend.start("a");
             WsEchoBackend ws = new WsEchoBackend("w");
             OpsFixture f = OpsFixture.start(dir, "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                     + "admin { bind = \"127.0.0.1:0\", token = \"" + token + "\" }\n"
                     + "listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = app\n"
                     + "  rules = [{ priority = 1, conditions.path = [\"/ws\"], action.forward = ws }] }]\n"
                     + "target-groups {\n"
                     + "  app { targets = [\"127.0.0.1:" + deadPort + "\", \"" + a.address() + "\"]\n"
                     + "        health-check { path = \"/health\", interval = 1h, timeout = 1s } }\n"
                     + "  ws { targets = [\"" + ws.address() + "\"], health-check.enabled = false }\n"
                     + "} }\n")) {
            f.token = token;
            traffic(f);
            String scrape = f.get("/metrics").body();
            Map<String, Set<String>> labels = labelsByMetric(scrape);
            for (String e : exprs) {
                Matcher m = METRIC.matcher(e);
                Set<String> names = new HashSet<>();
                while (m.find()) {
                    names.add(m.group(1));
                }
                assertTrue(!names.isEmpty(), "a query of Fulcrum's metrics: " + e);
                Set<String> have = new HashSet<>();
                for (String n : names) {
                    assertTrue(labels.containsKey(n), n + " (in " + e + ") is not in a real /metrics");
                    have.addAll(labels.get(n));
                }
                for (String l : usedLabels(e)) {
                    assertTrue(have.contains(l), "label " + l + " of " + e + " is not on " + names + ": " + have);
                }
            }
            int promPort = freePort();
            startPrometheus(f.ops.adminAddress().getPort(), token, promPort);
            awaitScrapes(promPort);
            traffic(f); // counters move between scrapes, so rates have something to show
            Thread.sleep(3000);
            for (String e : exprs) {
                String q = e.replace("$__rate_interval", "1m").replace("$target_group", ".*").replace("$listener", ".*");
                @SuppressWarnings("unchecked")
                Map<String, Object> answer = (Map<String, Object>) Json.parse(query(promPort, q));
                assertEquals("success", answer.get("status"), q + ": " + answer);
                @SuppressWarnings("unchecked")
                List<Object> result = (List<Object>) ((Map<String, Object>) answer.get("data")).get("result");
                assertTrue(!result.isEmpty(), "Prometheus has data for " + q);
            }
        }
    }

    /** Where the service block at the start of {@code block} ends: the next key at its indentation. */
    private static int nextService(String block) {
        Matcher m = Pattern.compile("\n  [a-z0-9-]+:\n").matcher(block);
        return m.find(1) ? m.start() : block.length();
    }

    /** Requests of each kind the dashboard shows: 2xx, 5xx, a retry off a dead target, a refusal, tunnels. */
    private static void traffic(OpsFixture f) throws Exception {
        for (int i = 0; i < 6; i++) {
            f.http.send(HttpRequest.newBuilder(URI.create(f.url("/ok/" + i))).build(),
                        HttpResponse.BodyHandlers.discarding());
        }
        f.http.send(HttpRequest.newBuilder(URI.create(f.url("/status?code=500"))).build(),
                    HttpResponse.BodyHandlers.discarding());
        try (RawClient c = new RawClient(f.port())) {
            c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
            assertEquals(400, c.read().status());
        }
        OpsFixture.Ws w = OpsFixture.Ws.open(f.http, f.port());
        assertEquals("hello from w", w.next());
        w.ws.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        w.closedAt.get(10, TimeUnit.SECONDS);
    }

    /** Every PromQL expression of the dashboard: its panels' and its variables'. */
    private static List<String> dashboardQueries() throws IOException {
        @SuppressWarnings("unchecked")
        Map<String, Object> d = (Map<String, Object>) Json.parse(Files.readString(DASHBOARD));
        List<String> out = new ArrayList<>();
        for (Object p : (List<?>) d.get("panels")) {
            Object targets = ((Map<?, ?>) p).get("targets");
            if (targets != null) {
                for (Object t : (List<?>) targets) {
                    out.add((String) ((Map<?, ?>) t).get("expr"));
                }
            }
        }
        for (Object v : (List<?>) ((Map<?, ?>) d.get("templating")).get("list")) {
            // label_values(metric, label) as a query of the same series
            String def = (String) ((Map<?, ?>) v).get("definition");
            Matcher m = Pattern.compile("label_values\\((\\w+), (\\w+)\\)").matcher(def);
            assertTrue(m.matches(), def);
            out.add("count by (" + m.group(2) + ") (" + m.group(1) + ")");
        }
        return out;
    }

    private static Set<String> usedLabels(String expr) {
        Set<String> out = new HashSet<>();
        Matcher by = BY.matcher(expr);
        while (by.find()) {
            for (String l : by.group(1).split(",")) {
                if (!l.isBlank() && !l.trim().equals("le")) {
                    out.add(l.trim());
                }
            }
        }
        Matcher m = MATCHER.matcher(expr);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** Sample name -> the label names its samples carry, from the text format. */
    private static Map<String, Set<String>> labelsByMetric(String scrape) {
        Map<String, Set<String>> out = new HashMap<>();
        Pattern label = Pattern.compile("([a-zA-Z_]+)=\"");
        for (String line : scrape.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.indexOf(' ');
            String name = line.substring(0, brace >= 0 && brace < space ? brace : space);
            Set<String> set = out.computeIfAbsent(name, k -> new HashSet<>());
            if (brace >= 0 && brace < space) {
                Matcher m = label.matcher(line.substring(brace, line.lastIndexOf('}')));
                while (m.find()) {
                    set.add(m.group(1));
                }
            }
        }
        return out;
    }

    /** Debian's Prometheus with docker/prometheus.yml, pointed at this Fulcrum and a 1 s scrape. */
    private void startPrometheus(int adminPort, String token, int port) throws IOException {
        Path tokenFile = dir.resolve("admin-token");
        Files.writeString(tokenFile, token);
        String conf = Files.readString(Path.of("docker/prometheus.yml"))
                .replace("fulcrum:9090", "127.0.0.1:" + adminPort)
                .replace("/tmp/fulcrum-admin-token", tokenFile.toString())
                .replace("scrape_interval: 5s", "scrape_interval: 1s");
        assertTrue(conf.contains("127.0.0.1:" + adminPort) && conf.contains(tokenFile.toString()), conf);
        Path file = dir.resolve("prometheus.yml");
        Files.writeString(file, conf);
        prometheus = new ProcessBuilder("prometheus", "--config.file=" + file, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                                        "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
    }

    private void awaitScrapes(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                String r = query(port, "count_over_time(up{job=\"fulcrum\"}[1m])");
                if (r.matches("(?s).*\"value\":\\[[0-9.]+,\"([3-9]|\\d\\d+)\"\\].*")
                    && query(port, "up{job=\"fulcrum\"}").contains(",\"1\"]")) {
                    return;
                }
            } catch (IOException e) {
                // not up yet
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Prometheus did not scrape Fulcrum 3 times within 60 s:\n"
                                         + Files.readString(dir.resolve("prometheus.log")));
            }
            Thread.sleep(500);
        }
    }

    private static String query(int port, String q) throws Exception {
        HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/query?query="
                                                  + URLEncoder.encode(q, StandardCharsets.UTF_8)))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd + " ended");
        assertEquals(0, p.exitValue(), cmd + ": " + out);
        return out;
    }
}
