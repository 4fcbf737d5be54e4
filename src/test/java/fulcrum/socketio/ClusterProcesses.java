package fulcrum.socketio;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** What the cluster test's children share: free ports, waiting for a line in a log, stopping. */
final class ClusterProcesses {
    private ClusterProcesses() {
    }

    /** A port free on {@code host} a moment ago. */
    static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
            return s.getLocalPort();
        }
    }

    static void awaitLine(Process p, Path log, String marker, long timeoutMs) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (text.contains(marker)) {
                return;
            }
            if (!p.isAlive()) {
                throw new IOException(log.getFileName() + ": exited with " + p.exitValue() + " before '" + marker
                                      + "':\n" + tail(text));
            }
            Thread.sleep(50);
        }
        throw new IOException(log.getFileName() + ": no '" + marker + "' within " + timeoutMs + " ms:\n"
                              + tail(Files.readString(log, StandardCharsets.UTF_8)));
    }

    static String tail(String text) {
        return text.length() <= 3000 ? text : text.substring(text.length() - 3000);
    }

    /** SIGTERM, then SIGKILL after {@code graceMs}. */
    static void stop(Process p, long graceMs) {
        if (p == null) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(graceMs, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static void kill(Process p) throws InterruptedException {
        if (p != null) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
