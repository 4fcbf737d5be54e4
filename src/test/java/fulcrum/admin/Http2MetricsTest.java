package fulcrum.admin;

import fulcrum.testing.Cli;
import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTP/2 requests in the metrics (by protocol) and in the access log (protocol HTTP/2.0). */
class Http2MetricsTest {
    @TempDir
    Path dir;

    private static double byProtocol(String metrics, String protocol) {
        Matcher m = Pattern.compile("(?m)^fulcrum_requests_by_protocol_total\\{[^}]*protocol=\"" + Pattern.quote(protocol)
                                    + "\"[^}]*} ([0-9.eE+]+)$").matcher(metrics);
        double sum = 0;
        while (m.find()) {
            sum += Double.parseDouble(m.group(1));
        }
        return sum;
    }

    @Test
    void http2RequestsAreCountedByProtocolAndLoggedAsHttp20() throws Exception {
        Path log = dir.resolve("access.log");
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config("health-check.enabled = false", a.address())
                     .replace("admin.bind", "access-log { enabled = true, format = json, file = \""
                                            + log.toString().replace("\\", "/") + "\" }\nadmin.bind"))) {
            for (int i = 0; i < 3; i++) {
                Cli.Result r = Cli.run(20, "curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_version}",
                                       f.url("/h2/" + i));
                assertEquals("a 2", r.output());
            }
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/h1/" + i)))
                        .version(java.net.http.HttpClient.Version.HTTP_1_1).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
            }
            String metrics = f.get("/metrics").body();
            assertEquals(3, byProtocol(metrics, "HTTP/2.0"), metrics);
            assertEquals(2, byProtocol(metrics, "HTTP/1.1"), metrics);
            long deadline = System.nanoTime() + 10_000_000_000L;
            List<String> lines = List.of();
            while (System.nanoTime() < deadline) {
                lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
                if (lines.stream().anyMatch(l -> l.contains("GET /h2/2 HTTP/2.0"))) {
                    break;
                }
                Thread.sleep(100);
            }
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"GET /h2/2 HTTP/2.0\"")), String.join("\n", lines));
        }
    }
}
