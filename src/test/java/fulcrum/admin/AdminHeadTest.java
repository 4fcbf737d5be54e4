package fulcrum.admin;

import fulcrum.testing.HttpBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HEAD answers wherever GET does on the admin API: the same status and fields, no body. */
class AdminHeadTest {
    @TempDir
    Path dir;

    @Test
    void headIsGetWithoutTheBody() throws Exception {
        try (HttpBackend a = HttpBackend.start("a");
             OpsFixture f = OpsFixture.start(dir, OpsFixture.config("health-check.enabled = false", a.address()))) {
            int port = f.ops.adminAddress().getPort();
            for (String path : List.of("/metrics", "/targets", "/healthz")) {
                String get = f.get(path).body();
                String head = curlHead("http://127.0.0.1:" + port + path);
                assertTrue(head.startsWith("HTTP/1.1 200"), path + ": " + head);
                String lower = head.toLowerCase(Locale.ROOT);
                assertTrue(lower.contains("content-type: "), head);
                if (!path.equals("/metrics")) { // a scrape differs from the one before it
                    assertTrue(lower.contains("content-length: " + get.getBytes(StandardCharsets.UTF_8).length), head);
                }
            }
            // On one connection: HEAD, then GET. Had the HEAD answer carried a body, the GET's
            // status line would not come next.
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                           + "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                                                  .getBytes(StandardCharsets.US_ASCII));
                String all = read(s.getInputStream());
                int second = all.indexOf("\r\n\r\n") + 4;
                assertTrue(all.startsWith("HTTP/1.1 200"), all);
                long length = Long.parseLong(all.substring(0, second).toLowerCase(Locale.ROOT)
                                                .split("content-length: ")[1].split("\r\n")[0].trim());
                assertTrue(length > 100, "the length of the scrape a GET would get: " + length + "\n" + all);
                assertTrue(all.substring(second).startsWith("HTTP/1.1 200"), "no body after the HEAD answer: " + all);
            }
            assertEquals(405, f.call("PATCH", "/metrics", null).statusCode());
        }
    }

    private static String curlHead(String url) throws Exception {
        Process p = new ProcessBuilder("curl", "-s", "-I", "--max-time", "10", url).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "curl -I " + url + ": " + out);
        return out;
    }

    private static String read(InputStream in) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toString(StandardCharsets.ISO_8859_1);
    }
}
