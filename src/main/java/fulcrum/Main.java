package fulcrum;

import fulcrum.config.FulcrumSettings;
import fulcrum.config.SettingsException;
import fulcrum.admin.Operations;
import fulcrum.diagnose.Diagnose;
import fulcrum.server.CheckReport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/** Command line: loads the configuration, starts the balancer, reloads on SIGHUP, stops on SIGTERM. */
public final class Main {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int BAD_CONFIG = 2;
    /** A resource error left the process unable to serve: the service manager should start it again. */
    static final int FATAL = 3;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        // A client of other servers: runs before (and without) any configuration of ours.
        if (args.length > 0 && args[0].equals("diagnose")) {
            return Diagnose.run(Arrays.copyOfRange(args, 1, args.length), out, err, version());
        }
        Path config = Path.of("conf/fulcrum.conf");
        boolean check = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config", "-c" -> {
                    if (i + 1 >= args.length) {
                        err.println("fulcrum: --config needs a file");
                        return BAD_CONFIG;
                    }
                    config = Path.of(args[++i]);
                }
                case "--check" -> check = true;
                case "--version", "-v" -> {
                    out.println("fulcrum " + version());
                    return OK;
                }
                case "--help", "-h" -> {
                    out.print(usage());
                    return OK;
                }
                default -> {
                    err.println("fulcrum: unknown argument '" + args[i] + "'");
                    err.print(usage());
                    return BAD_CONFIG;
                }
            }
        }
        FulcrumSettings settings;
        try {
            settings = FulcrumSettings.load(config);
        } catch (SettingsException e) {
            err.println("fulcrum: " + e.getMessage());
            return BAD_CONFIG;
        }
        if (check) {
            out.print(CheckReport.render(config, settings));
            return OK;
        }
        return serve(settings, config, err);
    }

    private static int serve(FulcrumSettings settings, Path config, PrintStream err) {
        Logger log = LoggerFactory.getLogger(Main.class);
        long started = System.nanoTime();
        Operations balancer;
        try {
            balancer = Operations.start(settings, config);
        } catch (RuntimeException e) {
            err.println("fulcrum: " + e.getMessage());
            log.error("start failed", e);
            return FAILED;
        }
        // A process that holds its ports and answers nothing is worse than one that exits: a dead
        // event loop, buffer memory run out, or an error out of memory or threads that nothing
        // caught, ends it here. (-XX:+ExitOnOutOfMemoryError covers the JVM's own, not the
        // direct-memory ones thrown by java.nio.Bits and Netty's allocator.)
        balancer.balancer().onFatal(reason -> fatal(log, reason));
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            if (e instanceof VirtualMachineError) {
                fatal(log, "thread " + t.getName() + ": " + e);
            } else {
                log.error("thread {} ended with an exception", t.getName(), e);
            }
        });
        log.info("fulcrum {} started in {} ms", version(), (System.nanoTime() - started) / 1_000_000);
        Signals.onReload(balancer::reload);
        CountDownLatch done = new CountDownLatch(1);
        Signals.onTerminate(() -> {
            log.info("stopping: finishing in-flight requests for up to {} ms", settings.shutdownGrace().toMillis());
            balancer.stop(settings.shutdownGrace());
            done.countDown();
        }, () -> {
            log.warn("second stop signal: closing everything now");
            Runtime.getRuntime().halt(OK);
        });
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return OK;
    }

    private static final AtomicBoolean FATAL_SEEN = new AtomicBoolean();

    /** One line, from the first thread to get here; the others return into the halt. */
    private static void fatal(Logger log, String reason) {
        if (!FATAL_SEEN.compareAndSet(false, true)) {
            return;
        }
        log.error("fatal: {}; exiting with status {} to be restarted", reason, FATAL);
        Runtime.getRuntime().halt(FATAL);
    }

    /** This build's version from the jar manifest; "dev" when run from classes. */
    public static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    private static String usage() {
        return """
               Usage: fulcrum [--config FILE] [--check] [--version] [--help]
                 --config FILE  the HOCON configuration (default conf/fulcrum.conf)
                 --check        validate the configuration, print a summary, exit 0 (valid) or 2
                 --version      print the version
                 --help         print this help
               Usage: fulcrum diagnose [--help] [options] URL
                 check a Socket.IO endpoint behind any balancer (stickiness, WebSocket, timeouts, CORS, TLS)
               """;
    }
}
