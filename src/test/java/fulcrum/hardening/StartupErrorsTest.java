package fulcrum.hardening;

import fulcrum.testing.HttpBackend;
import fulcrum.testing.TestCerts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Start-up errors as an operator meets them, running the real jar: one line on standard error
 * that names what failed and where, exit code 2, no stack trace (unless --debug); and two
 * instances on one host with the default admin settings both start.
 */
class StartupErrorsTest {
    @TempDir
    Path dir;

    private final List<Process> started = new ArrayList<>();
    private final List<FulcrumProcess> running = new ArrayList<>();

    @AfterEach
    void stopAll() throws InterruptedException {
        started.forEach(Process::destroyForcibly);
        for (FulcrumProcess p : running) {
            p.close();
        }
    }

    /** What a run that was expected to fail said and how it ended. */
    private record Outcome(int exit, List<String> stderr, String stdout) {
        String line() {
            assertEquals(1, stderr.size(), "one line on standard error: " + stderr + "\nstdout:\n" + stdout);
            assertFalse(stdout.contains("\tat ") || stdout.contains("Exception"), "no stack trace: " + stdout);
            return stderr.get(0);
        }
    }

    private Outcome run(String conf, List<String> wrapper, String... args) throws Exception {
        Path file = dir.resolve("fulcrum-" + started.size() + ".conf");
        Files.writeString(file, conf);
        List<String> cmd = FulcrumProcess.command(file, wrapper, List.of());
        cmd.addAll(List.of(args));
        Path out = dir.resolve("out-" + started.size());
        Path err = dir.resolve("err-" + started.size());
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        started.add(p);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "fulcrum ended by itself");
        return new Outcome(p.exitValue(), Files.readAllLines(err).stream().filter(l -> !l.isBlank()).toList(),
                           Files.readString(out));
    }

    private static String conf(String listenerBind, String admin, String backend) {
        return "fulcrum { io-threads = 1, shutdown-grace = 1s\n" + admin + "\n"
               + "listeners = [{ name = web, bind = \"" + listenerBind + "\", default-target-group = app }]\n"
               + "target-groups.app { targets = [\"" + backend + "\"], health-check.enabled = false } }\n";
    }

    @Test
    void aListenerAddressInUseIsOneLineAndExitTwo() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String where = "127.0.0.1:" + taken.getLocalPort();
            Outcome o = run(conf(where, "admin.enabled = false", "127.0.0.1:9"), List.of());
            assertEquals(2, o.exit());
            assertEquals("fulcrum: listener web: cannot listen on " + where
                         + ": address already in use (another process listens there: another Fulcrum?)", o.line());

            Outcome debug = run(conf(where, "admin.enabled = false", "127.0.0.1:9"), List.of(), "--debug");
            assertEquals(2, debug.exit());
            assertTrue(debug.stderr().get(0).startsWith("fulcrum: listener web: cannot listen on " + where),
                       debug.stderr().toString());
            assertTrue(debug.stderr().stream().anyMatch(l -> l.startsWith("\tat ")), "--debug adds the trace");
        }
    }

    @Test
    void aPortNotPermittedIsOneLineAndExitTwo() throws Exception {
        // Ports below 1024 need privilege: root runs it without CAP_NET_BIND_SERVICE, as a service user would.
        List<String> unprivileged = "root".equals(System.getProperty("user.name"))
                ? List.of("setpriv", "--bounding-set", "-net_bind_service") : List.of();
        Outcome o = run(conf("127.0.0.1:1023", "admin.enabled = false", "127.0.0.1:9"), unprivileged);
        assertEquals(2, o.exit());
        assertEquals("fulcrum: listener web: cannot listen on 127.0.0.1:1023: not permitted "
                     + "(ports below 1024 need root or CAP_NET_BIND_SERVICE)", o.line());
    }

    @Test
    void anAdminPortInUseThatWasChosenIsOneLineAndExitTwo() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String where = "127.0.0.1:" + taken.getLocalPort();
            Outcome o = run(conf("127.0.0.1:0", "admin.bind = \"" + where + "\"", "127.0.0.1:9"), List.of());
            assertEquals(2, o.exit());
            assertEquals("fulcrum: admin API: cannot listen on " + where
                         + ": address already in use (another process listens there: another Fulcrum?)", o.line());
        }
    }

    @Test
    void aCertificateThatIsNotTheKeysIsOneLineAndExitTwo() throws Exception {
        TestCerts.Cert a = TestCerts.generate(dir, "a", "a.example", "DNS:a.example");
        TestCerts.Cert b = TestCerts.generate(dir, "b", "b.example", "DNS:b.example");
        String conf = "fulcrum { admin.enabled = false\n"
                      + "listeners = [{ name = secure, bind = \"127.0.0.1:0\", default-target-group = app\n"
                      + "  tls.certificates = [{ cert = \"" + a.certFile() + "\", key = \"" + b.keyFile() + "\" }] }]\n"
                      + "target-groups.app.targets = [\"127.0.0.1:9\"] }\n";
        Outcome o = run(conf, List.of());
        assertEquals(2, o.exit());
        String line = o.line();
        assertTrue(line.startsWith("fulcrum: fulcrum.listeners[0].tls.certificates[0].key: " + b.keyFile()), line);
        assertTrue(line.contains(a.certFile().toString()), line);
    }

    /**
     * Two instances on one host, neither naming an admin address: both start and serve. The
     * default admin port goes to the first (when nothing else on this machine holds it); the
     * other says in one warning that it runs without an admin API, and how to give it one.
     */
    @Test
    void twoInstancesWithDefaultAdminSettingsBothStart() throws Exception {
        boolean adminPortFree = free(9090);
        try (HttpBackend app = HttpBackend.start("a")) {
            FulcrumProcess first = start("one", app.address());
            int firstPort = first.listenerPort("web", 30_000);
            if (adminPortFree) {
                first.adminPort(30_000);
            }
            FulcrumProcess second = start("two", app.address());
            int secondPort = second.listenerPort("web", 30_000);
            for (int port : new int[] {firstPort, secondPort}) {
                assertTrue(get(port).startsWith("HTTP/1.1 200"), "instance on " + port + " serves");
            }
            String log = second.output();
            assertTrue(log.contains("WARN") && log.contains("admin API: cannot listen on 127.0.0.1:9090: address "
                       + "already in use") && log.contains("running without the admin API: set fulcrum.admin.bind"),
                       log);
            assertFalse(log.contains("\tat "), log);
        }
    }

    private FulcrumProcess start(String name, String backend) throws IOException {
        Path file = dir.resolve(name + ".conf");
        Files.writeString(file, conf("127.0.0.1:0", "", backend));
        FulcrumProcess p = new FulcrumProcess(file, dir.resolve(name + ".log"), List.of(), List.of());
        running.add(p);
        return p;
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String get(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                              .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
