package fulcrum.socketio;

import java.io.IOException;
import java.nio.file.Path;

/** A real redis-server on a loopback port, which can be stopped and started again on that port (empty). */
final class ClusterRedis implements AutoCloseable {
    private final Path logDir;
    private final int port;
    private Process process;
    private int starts;

    private ClusterRedis(Path logDir, int port) {
        this.logDir = logDir;
        this.port = port;
    }

    static ClusterRedis start(Path logDir) throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            ClusterRedis r = new ClusterRedis(logDir, ClusterProcesses.freePort("127.0.0.1"));
            try {
                r.start();
                return r;
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    /** Starts it (again) on its port, with no data: as a Redis without persistence comes back. */
    void start() throws IOException, InterruptedException {
        Path log = logDir.resolve("fulcrum-redis-" + port + "." + ++starts + ".log");
        process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            ClusterProcesses.awaitLine(process, log, "Ready to accept connections", 20_000);
        } catch (IOException e) {
            ClusterProcesses.kill(process);
            throw e;
        }
    }

    /** SIGKILL: Redis gone at once, as a crash or a network cut. */
    void kill() throws InterruptedException {
        ClusterProcesses.kill(process);
    }

    /** Sends {@code kill -NAME}: STOP makes Redis a server that accepts and never answers, CONT resumes it. */
    void signal(String name) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
    }

    boolean running() {
        return process != null && process.isAlive();
    }

    int port() {
        return port;
    }

    String uri() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    @Override
    public void close() {
        ClusterProcesses.stop(process, 5_000);
    }
}
