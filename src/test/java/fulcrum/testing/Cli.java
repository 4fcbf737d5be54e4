package fulcrum.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command-line client (curl, nghttp, h2load) to its end within a bound, killed past it. */
public final class Cli {
    private Cli() {
    }

    /** What a command printed (stdout and stderr together) and its exit status. */
    public record Result(int exit, String output) {
    }

    public static Result run(long timeoutSeconds, String... cmd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("cli", ".out");
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError(String.join(" ", cmd) + " did not end within " + timeoutSeconds + " s: "
                                         + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(out);
        }
    }
}
