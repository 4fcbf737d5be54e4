package fulcrum;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void diagnoseIsASubcommandThatReadsNoConfiguration() {
        assertEquals(2, run("diagnose", "--config", "conf/fulcrum.conf"));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("fulcrum diagnose: unknown option '--config'"), err.toString());
    }

    @Test
    void checkPrintsASummaryOfTheShippedConfig() {
        assertEquals(0, run("--check", "--config", "conf/fulcrum.conf"));
        String s = out.toString(StandardCharsets.UTF_8);
        assertTrue(s.contains("listener public  bind 127.0.0.1:8080  default-target-group chat"), s);
        assertTrue(s.contains("target group chat  round-robin  targets [127.0.0.1:3001, 127.0.0.1:3002]"), s);
        assertTrue(s.contains("health-check http /health"), s);
    }

    @Test
    void checkFailsWithExitCode2AndOneLine() throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(f, """
                fulcrum {
                  listeners = [{ name = a, bind = "127.0.0.1:8080", default-target-group = nope }]
                  target-groups.chat.targets = ["127.0.0.1:3001"]
                }
                """);
        assertEquals(2, run("--check", "--config", f.toString()));
        String e = err.toString(StandardCharsets.UTF_8);
        assertEquals("fulcrum: fulcrum.listeners[0].default-target-group: nope (expected: the name of a target group "
                     + "(chat)) at " + f + ":2\n", e);
    }

    @Test
    void socketIoTimeoutWarning() throws Exception {
        Path f = dir.resolve("short.conf");
        Files.writeString(f, """
                fulcrum {
                  listeners = [{ name = a, bind = "127.0.0.1:8080", default-target-group = chat, idle-timeout = 30s }]
                  target-groups.chat.targets = ["127.0.0.1:3001"]
                }
                """);
        assertEquals(0, run("--check", "--config", f.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("warning: listener a: idle-timeout 30s is shorter"),
                   out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void versionHelpAndBadArguments() {
        assertEquals(0, run("--version"));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("fulcrum "));
        assertEquals(0, run("--help"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--check"));
        assertEquals(2, run("--bogus"));
        assertEquals(2, run("--config", dir.resolve("missing.conf").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("missing.conf: no such file"));
    }
}
