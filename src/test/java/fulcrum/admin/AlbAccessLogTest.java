package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import fulcrum.testing.RawClient;
import fulcrum.testing.TestCerts;
import fulcrum.testing.WsEchoBackend;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hive.serde2.RegexSerDe;
import org.apache.hadoop.hive.serde2.objectinspector.StructObjectInspector;
import org.apache.hadoop.io.Text;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The access log in ALB's format, read by the tools people use on ALB logs: a run through real
 * HTTP and HTTPS listeners with curl, WebSockets (ws and wss), errors of the target and of
 * Fulcrum, rules' own answers and refused requests; then goaccess (--log-format=AWSALB) must read
 * every line, AWS's own Athena table for ALB logs (its published regex, run by Hive's RegexSerDe)
 * every line with each column right, lnav's built-in alb_log format every line it can (see
 * {@link #lnavReadsEveryLineWithATarget}), and each line must have ALB's 33 fields with the values
 * this run makes.
 */
class AlbAccessLogTest {
    @TempDir
    Path dir;

    @Test
    void aRunOfEveryKindIsReadWholeByAlbLogTools() throws Exception {
        Path log = dir.resolve("access.log");
        TestCerts.Cert cert = TestCerts.generate(dir, "site", "localhost", "DNS:localhost");
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort(); // closed again: connections to it are refused
        }
        try (HttpBackend app = HttpBackend.start("a");
             WsEchoBackend ws = new WsEchoBackend("w");
             OpsFixture f = OpsFixture.start(dir, config(log, cert, app.address(), ws.address(), deadPort))) {
            OpsFixture.await("healthy", () -> f.ops.balancer().targetGroups().get("app").snapshot().all().get(0)
                                                   .state() == fulcrum.balance.HealthState.HEALTHY);
            int web = f.ops.balancer().listenerAddress(0).getPort();
            int secure = f.ops.balancer().listenerAddress(1).getPort();
            String http = "http://127.0.0.1:" + web;
            String https = "https://localhost:" + secure;
            String resolve = "localhost:" + secure + ":127.0.0.1";
            int lines = 0;
            assertEquals("200", curl("-A", "alb-test \"quoted\"", http + "/ok/1?x=1"));
            assertEquals("200", curl(http + "/ok/2"));
            assertEquals("500", curl(http + "/status?code=500"));
            assertEquals("301", curl(http + "/old/page"));
            assertEquals("503", curl(http + "/maint"));
            assertEquals("502", curl(http + "/dead/x"));
            assertEquals("200", curl("-k", "--resolve", resolve, https + "/ok/3"));
            assertEquals("200", curl("-k", "--http1.1", "--tls-max", "1.2", "--resolve", resolve, https + "/ok/4"));
            lines += 8;
            HttpClient client = HttpClient.newBuilder().sslContext(TestCerts.trusting(cert.certificate())).build();
            webSocket(client, "ws://127.0.0.1:" + web + "/ws");
            webSocket(client, "wss://localhost:" + secure + "/ws");
            lines += 2;
            try (RawClient c = new RawClient(web)) { // both Content-Length and Transfer-Encoding: refused
                c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
                assertEquals(400, c.read().status());
            }
            try (RawClient c = new RawClient(web)) { // not HTTP at all
                c.send("HELLO\r\n\r\n");
                assertEquals(400, c.read().status());
            }
            try (RawClient c = new RawClient(web)) { // a head that never ends
                c.send("GET / HTTP/1.1\r\nHost: x\r\n");
                assertEquals(408, c.read().status());
            }
            try (RawClient c = new RawClient(web)) { // bare LF: ambiguous, forwarded once (defensive mode)
                c.send("GET /ok/lf HTTP/1.1\nHost: lf.example\n\n");
                assertEquals(200, c.read().status());
            }
            try (RawClient c = new RawClient(web)) { // HTTP/1.0 without Host
                c.send("GET /ok/10 HTTP/1.0\r\n\r\n");
                assertEquals(200, c.read().status());
            }
            lines += 5;
            int expected = lines;
            OpsFixture.await(expected + " access log lines", () -> read(log).size() == expected);
            Thread.sleep(300); // nothing more comes
            List<String> all = read(log);
            Files.copy(log, Path.of("target", "alb-access-sample.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(expected, all.size(), String.join("\n", all));

            for (String l : all) {
                assertEquals(33, fields(l).size(), l);
            }
            List<String> ok1 = line(all, "/ok/1?x=1");
            assertEquals("http", ok1.get(0));
            assertTrue(ok1.get(1).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z"), ok1.get(1));
            assertEquals("web", ok1.get(2));
            assertTrue(ok1.get(3).startsWith("127.0.0.1:"), ok1.get(3));
            assertEquals(app.address(), ok1.get(4));
            assertEquals("200", ok1.get(8));
            assertEquals("200", ok1.get(9));
            assertEquals("GET http://127.0.0.1:" + web + "/ok/1?x=1 HTTP/1.1", ok1.get(12));
            assertEquals("alb-test \\x22quoted\\x22", ok1.get(13));
            assertEquals("-", ok1.get(14));
            assertEquals("-", ok1.get(15));
            assertEquals("app", ok1.get(16));
            assertTrue(ok1.get(17).length() > 8, "the request id as trace_id");
            assertEquals("0", ok1.get(20), "the default action");
            assertEquals("forward", ok1.get(22));
            assertEquals("-", ok1.get(24));
            assertEquals(app.address(), ok1.get(25));
            assertEquals("200", ok1.get(26));
            assertTrue(ok1.get(29).startsWith("TID_"), ok1.get(29));

            List<String> tls = line(all, "/ok/3"); // curl takes HTTP/2 where ALPN offers it
            assertEquals("h2", tls.get(0), String.join(" | ", tls));
            assertEquals("GET https://localhost:" + secure + "/ok/3 HTTP/2.0", tls.get(12));
            assertEquals("TLS_AES_128_GCM_SHA256|TLS_AES_256_GCM_SHA384|TLS_CHACHA20_POLY1305_SHA256"
                                 .contains(tls.get(14)) ? tls.get(14) : "not a TLS 1.3 suite: " + tls.get(14),
                         tls.get(14));
            assertEquals("TLSv1.3", tls.get(15));
            assertEquals("localhost", tls.get(18));
            assertTrue(tls.get(19).contains("CN=localhost"), tls.get(19));
            List<String> tls12 = line(all, "/ok/4");
            assertEquals("https", tls12.get(0));
            assertEquals("GET https://localhost:" + secure + "/ok/4 HTTP/1.1", tls12.get(12));
            assertEquals("TLSv1.2", tls12.get(15));
            assertTrue(tls12.get(14).startsWith("ECDHE-"), "OpenSSL's name: " + tls12.get(14));

            List<String> redirect = line(all, "/old/page");
            assertEquals("301", redirect.get(8));
            assertEquals("-", redirect.get(4));
            assertTrue(redirect.get(5).matches("\\d+\\.\\d{3}") && redirect.get(6).equals("0.000"),
                       "a rule's own answer has its times, no target's: " + redirect);
            assertEquals("20", redirect.get(20));
            assertEquals("redirect", redirect.get(22));
            assertEquals("http://127.0.0.1:" + web + "/new/old/page", redirect.get(23));
            assertEquals("fixed-response", line(all, "/maint").get(22));
            List<String> dead = line(all, "/dead/x");
            assertEquals("502", dead.get(8));
            assertEquals("-", dead.get(9));
            assertEquals("TargetConnectionError", dead.get(24));
            assertEquals(List.of("-1", "-1", "-1"), dead.subList(5, 8), "never reached a target");
            assertEquals("500", line(all, "/status?code=500").get(9));

            List<String> wsLine = line(all, "ws://", "http://127.0.0.1:" + web + "/ws ");
            assertEquals("ws", wsLine.get(0));
            assertEquals("101", wsLine.get(8));
            assertEquals(ws.address(), wsLine.get(4));
            assertTrue(Long.parseLong(wsLine.get(11)) > "hello from w".length(), "bytes the tunnel carried");
            assertEquals("10", wsLine.get(20));
            List<String> wss = line(all, "https://localhost:" + secure + "/ws ");
            assertEquals("wss", wss.get(0));
            assertEquals("TLSv1.3", wss.get(15));

            List<List<String>> refused = all.stream().map(AlbAccessLogTest::fields)
                    .filter(l -> l.get(12).equals("- - - ")).toList();
            assertEquals(3, refused.size(), all.toString());
            for (List<String> r : refused) {
                assertEquals("-", r.get(4));
                assertEquals("-1", r.get(5));
                assertEquals("-", r.get(20));
            }
            assertTrue(refused.stream().anyMatch(r -> r.get(8).equals("408")
                                                     && r.get(24).equals("RequestHeaderTimeout")), refused.toString());
            assertTrue(refused.stream().anyMatch(r -> r.get(8).equals("400") && r.get(24).equals("MalformedRequest")
                                                     && r.get(27).equals("Severe") && r.get(28).equals("BothTeClPresent")),
                       "a desync refusal says its classification and ALB's code for why: " + refused);
            assertTrue(refused.stream().anyMatch(r -> r.get(8).equals("400") && r.get(28).equals("MissingUri")),
                       "not HTTP at all: http_desync_guardian's code for a request line without a target: " + refused);
            List<String> lf = line(all, "/ok/lf");
            assertEquals("GET http://lf.example:" + web + "/ok/lf HTTP/1.1", lf.get(12));
            assertEquals("Ambiguous", lf.get(27));
            assertEquals("NonCrLfLineTermination", lf.get(28), "http_desync_guardian's code");
            assertEquals("GET http://127.0.0.1:" + web + "/ok/10 HTTP/1.0", line(all, "/ok/10").get(12));

            goaccessReadsEveryLine(log, expected);
            lnavReadsEveryLineWithATarget(log, all);
            athenaTableReadsEveryLine(all);
        }
    }

    /** goaccess's AWS ALB format: every line a valid request, none failed. */
    private void goaccessReadsEveryLine(Path log, int expected) throws Exception {
        Path out = dir.resolve("goaccess.json");
        Process p = new ProcessBuilder("goaccess", log.toString(), "--log-format=AWSALB", "--no-global-config",
                                       "-o", out.toString()).redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "goaccess ended");
        assertEquals(0, p.exitValue(), said);
        @SuppressWarnings("unchecked")
        Map<String, Object> general = (Map<String, Object>) ((Map<String, Object>) Json.parse(
                Files.readString(out))).get("general");
        assertEquals((long) expected, general.get("total_requests"), general.toString());
        assertEquals((long) expected, general.get("valid_requests"), general.toString());
        assertEquals(0L, general.get("failed_requests"), general.toString());
    }

    /**
     * lnav's built-in alb_log format. Its pattern wants a target ip:port, so it skips the lines
     * of requests no target served; it skips AWS's own lines of that kind too (the failed Lambda
     * call of {@link #AWS_SAMPLES}), so that is lnav's limit, not Fulcrum's. Every other line it
     * must read, with the fields this run made.
     */
    private void lnavReadsEveryLineWithATarget(Path log, List<String> all) throws Exception {
        List<String> withTarget = all.stream().filter(l -> !fields(l).get(4).equals("-")).toList();
        List<String> rows = lnavRows(log);
        assertEquals(withTarget.size(), rows.size(), String.join("\n", rows));
        for (String l : withTarget) {
            List<String> x = fields(l);
            String uri = x.get(12).split(" ")[1];
            String stem = uri.contains("?") ? uri.substring(0, uri.indexOf('?')) : uri;
            String expect = x.get(0) + "," + x.get(8) + "," + x.get(4).substring(x.get(4).lastIndexOf(':') + 1)
                            + "," + x.get(12).split(" ")[0] + "," + stem + "," + x.get(15);
            assertTrue(rows.contains(expect), "lnav read " + expect + " from " + l + "\n" + rows);
        }
        Path aws = dir.resolve("aws-samples.log");
        Files.write(aws, AWS_SAMPLES);
        assertEquals(List.of("http,200,80,GET,http://www.example.com:80/,-"), lnavRows(aws),
                     "lnav reads AWS's line with a target and skips AWS's line without one");
    }

    /** What lnav's alb_log table holds of {@code log}: type, status, target port, method, path, TLS protocol. */
    private List<String> lnavRows(Path log) throws Exception {
        Path home = Files.createDirectories(dir.resolve("lnav-home"));
        ProcessBuilder pb = new ProcessBuilder("lnav", "-n", "-c",
                ";SELECT type, elb_status_code, target_port, cs_method, cs_uri_stem, ssl_protocol FROM alb_log",
                "-c", ":write-csv-to -", log.toString()).redirectErrorStream(true);
        pb.environment().put("HOME", home.toString());
        Process p = pb.start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "lnav ended");
        assertEquals(0, p.exitValue(), said);
        return said.lines().filter(l -> l.matches("^(http|https|ws|wss|h2),.*")).toList();
    }

    /**
     * Two entries as AWS's "Access logs for your Application Load Balancer" shows them (its HTTP
     * example, and a request whose Lambda target failed, so target:port is "-"), in today's layout
     * with conn_trace_id and the three request-transform fields: the tools must read AWS's own.
     */
    private static final List<String> AWS_SAMPLES = List.of(
            "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80"
            + " 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - -"
            + " arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
            + " \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 2018-07-02T22:22:48.364000Z \"forward\""
            + " \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\" TID_1234abcd5678ef90 \"-\" \"-\" \"-\"",
            "http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 -"
            + " 0.000 0.001 0.000 502 - 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - -"
            + " arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
            + " \"Root=1-58337364-23a8c76965a2ef7629b185e3\" \"-\" \"-\" 0 2018-11-30T22:22:48.364000Z \"forward\""
            + " \"-\" \"LambdaInvalidResponse\" \"-\" \"-\" \"-\" \"-\" TID_1234abcd5678ef90 \"-\" \"-\" \"-\"");

    /**
     * The columns and RegexSerDe input.regex of AWS's Athena table for ALB access logs, as
     * published in the Athena user guide, "Create the table for ALB access logs"
     * (docs.aws.amazon.com/athena/latest/ug/create-alb-access-logs-table.html), with the DDL's
     * string escapes undone (\" is ", \\s is \s).
     */
    private static final String ATHENA_REGEX = "([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*):([0-9]*) ([^ ]*)[:-]([0-9]*)"
            + " ([-.0-9]*) ([-.0-9]*) ([-.0-9]*) (|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*)"
            + " \"([^ ]*) (.*) (- |[^ ]*)\" \"([^\"]*)\" ([A-Z0-9-_]+) ([A-Za-z0-9.-]*) ([^ ]*)"
            + " \"([^\"]*)\" \"([^\"]*)\" \"([^\"]*)\" ([-.0-9]*) ([^ ]*) \"([^\"]*)\" \"([^\"]*)\""
            + " \"([^ ]*)\" \"([^\\s]+?)\" \"([^\\s]+)\" \"([^ ]*)\" \"([^ ]*)\" ?([^ ]*)? ?( .*)?";
    private static final String ATHENA_COLUMNS = "type string, time string, elb string, client_ip string,"
            + " client_port int, target_ip string, target_port int, request_processing_time double,"
            + " target_processing_time double, response_processing_time double, elb_status_code int,"
            + " target_status_code string, received_bytes bigint, sent_bytes bigint, request_verb string,"
            + " request_url string, request_proto string, user_agent string, ssl_cipher string,"
            + " ssl_protocol string, target_group_arn string, trace_id string, domain_name string,"
            + " chosen_cert_arn string, matched_rule_priority string, request_creation_time string,"
            + " actions_executed string, redirect_url string, lambda_error_reason string, target_port_list string,"
            + " target_status_code_list string, classification string, classification_reason string,"
            + " conn_trace_id string";

    /**
     * AWS's Athena table for ALB access logs ({@link #ATHENA_REGEX}), read by Apache Hive's
     * RegexSerDe, the class its DDL names. Hive wants one column per group where Athena ignores
     * surplus groups, so the last group, which AWS keeps to swallow fields added later, gets a
     * column of its own ({@code later}). A line the regex does not match would be a row of NULLs;
     * every line must match, every typed column must convert, and each column must hold this
     * run's value. AWS's own sample lines are read the same way, as a check on the setup.
     */
    private static void athenaTableReadsEveryLine(List<String> all) throws Exception {
        List<String> names = new ArrayList<>();
        List<String> types = new ArrayList<>();
        for (String column : (ATHENA_COLUMNS + ", later string").split(", ")) {
            names.add(column.split(" ")[0]);
            types.add(column.split(" ")[1]);
        }
        Properties table = new Properties();
        table.setProperty("columns", String.join(",", names));
        table.setProperty("columns.types", String.join(":", types));
        table.setProperty("columns.comments", "\0".repeat(names.size() - 1));
        table.setProperty("serialization.format", "1");
        table.setProperty("input.regex", ATHENA_REGEX);
        RegexSerDe serde = new RegexSerDe();
        serde.initialize(new Configuration(false), table, null);
        StructObjectInspector inspector = (StructObjectInspector) serde.getObjectInspector();
        List<String> lines = new ArrayList<>(all);
        lines.addAll(AWS_SAMPLES);
        for (String l : lines) {
            Object row = serde.deserialize(new Text(l));
            assertNotNull(row, "Athena's regex matches " + l);
            List<Object> got = inspector.getStructFieldsDataAsList(row);
            Map<String, Object> c = new HashMap<>();
            for (int i = 0; i < names.size(); i++) {
                c.put(names.get(i), got.get(i));
            }
            List<String> x = fields(l);
            String why = l + "\n read as " + c;
            assertEquals(List.of(x.get(0), x.get(1), x.get(2)), Arrays.asList(c.get("type"), c.get("time"), c.get("elb")), why);
            assertEquals(x.get(3), c.get("client_ip") + ":" + c.get("client_port"), why);
            if (x.get(4).equals("-")) { // AWS's regex reads no target as "" and a NULL port, AWS's lines too
                assertEquals("", c.get("target_ip"), why);
                assertNull(c.get("target_port"), why);
            } else {
                assertEquals(x.get(4), c.get("target_ip") + ":" + c.get("target_port"), why);
            }
            assertEquals(List.of(Double.valueOf(x.get(5)), Double.valueOf(x.get(6)), Double.valueOf(x.get(7))),
                         Arrays.asList(c.get("request_processing_time"), c.get("target_processing_time"),
                                 c.get("response_processing_time")), why);
            assertEquals(Integer.valueOf(x.get(8)), c.get("elb_status_code"), why);
            assertEquals(x.get(9), c.get("target_status_code"), why);
            assertEquals(List.of(Long.valueOf(x.get(10)), Long.valueOf(x.get(11))),
                         Arrays.asList(c.get("received_bytes"), c.get("sent_bytes")), why);
            if (x.get(12).equals("- - - ")) { // as AWS's regex splits ALB's "- - - "
                assertEquals(List.of("-", "- -", ""),
                             Arrays.asList(c.get("request_verb"), c.get("request_url"), c.get("request_proto")), why);
            } else {
                assertEquals(List.of(x.get(12).split(" ")),
                             Arrays.asList(c.get("request_verb"), c.get("request_url"), c.get("request_proto")), why);
            }
            String[] rest = {"user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn", "trace_id",
                             "domain_name", "chosen_cert_arn", "matched_rule_priority", "request_creation_time",
                             "actions_executed", "redirect_url", "lambda_error_reason", "target_port_list",
                             "target_status_code_list", "classification", "classification_reason",
                             "conn_trace_id"};
            for (int i = 0; i < rest.length; i++) {
                assertEquals(x.get(13 + i), c.get(rest[i]), rest[i] + " of " + why);
            }
            assertEquals(" \"-\" \"-\" \"-\"", c.get("later"), "the transform fields, AWS's newest: " + why);
        }
    }

    private static void webSocket(HttpClient client, String url) throws Exception {
        OpsFixture.Ws w = new OpsFixture.Ws();
        w.ws = client.newWebSocketBuilder().buildAsync(URI.create(url), w).get(10, TimeUnit.SECONDS);
        assertEquals("hello from w", w.next());
        w.ws.sendText("echo me", true).get(10, TimeUnit.SECONDS);
        assertEquals("echo me", w.next());
        w.ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        w.closedAt.get(10, TimeUnit.SECONDS);
    }

    private static String config(Path log, TestCerts.Cert cert, String app, String ws, int deadPort) {
        String rules = """
                rules = [
                  { priority = 10, conditions { path = ["/ws*"] }, action { forward = ws } }
                  { priority = 20, conditions { path = ["/old/*"] }, action { redirect { status = 301, path = "/new/#{path}" } } }
                  { priority = 30, conditions { path = ["/maint"] }, action { fixed-response { status = 503, body = "later" } } }
                  { priority = 40, conditions { path = ["/dead/*"] }, action { forward = dead } }
                ]""";
        return "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
               + "admin.bind = \"127.0.0.1:0\"\n"
               + "access-log { enabled = true, format = alb, file = \"" + slashes(log) + "\" }\n"
               + "listeners = [\n"
               + "  { name = web, bind = \"127.0.0.1:0\", default-target-group = app, header-timeout = 1s\n"
               + rules + " }\n"
               + "  { name = secure, bind = \"127.0.0.1:0\", default-target-group = app\n"
               + "    tls.certificates = [{ cert = \"" + slashes(cert.certFile()) + "\", key = \""
               + slashes(cert.keyFile()) + "\" }]\n" + rules + " }\n"
               + "]\n"
               + "target-groups {\n"
               + "  app { targets = [\"" + app + "\"], health-check { path = \"/health\", interval = 200ms, timeout = 150ms } }\n"
               + "  ws { targets = [\"" + ws + "\"], health-check.enabled = false }\n"
               + "  dead { targets = [\"127.0.0.1:" + deadPort + "\"], health-check.enabled = false, max-retries = 0 }\n"
               + "} }\n";
    }

    private static String slashes(Path p) {
        return p.toString().replace("\\", "/");
    }

    /** Runs curl on loopback; its answer's status. */
    private static String curl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                   "--max-time", "10"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "curl ended");
        return out;
    }

    private static List<String> read(Path p) {
        try {
            return Files.exists(p) ? Files.readAllLines(p) : List.of();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The one line whose request field contains every one of {@code parts} (a "ws://" part is the type). */
    private static List<String> line(List<String> all, String... parts) {
        List<List<String>> found = all.stream().map(AlbAccessLogTest::fields).filter(l -> {
            for (String part : parts) {
                boolean ok = part.equals("ws://") ? l.get(0).equals("ws") : l.get(12).contains(part);
                if (!ok) {
                    return false;
                }
            }
            return true;
        }).collect(Collectors.toList());
        assertEquals(1, found.size(), "one line with " + List.of(parts) + " in\n" + String.join("\n", all));
        return found.get(0);
    }

    /** ALB's fields: space-separated, or in double quotes (removed here) that hold no quote. */
    static List<String> fields(String line) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < line.length()) {
            if (line.charAt(i) == '"') {
                StringBuilder b = new StringBuilder();
                i++;
                while (i < line.length() && line.charAt(i) != '"') {
                    b.append(line.charAt(i++));
                }
                out.add(b.toString());
                i += 2; // the quote and the space after it
            } else {
                int end = line.indexOf(' ', i);
                end = end < 0 ? line.length() : end;
                out.add(line.substring(i, end));
                i = end + 1;
            }
        }
        return out;
    }
}
