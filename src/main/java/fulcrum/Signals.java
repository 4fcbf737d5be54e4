package fulcrum;

import sun.misc.Signal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * SIGTERM and SIGINT: the first starts a graceful stop, a second one forces the rest closed.
 * SIGHUP: reload the configuration.
 * sun.misc.Signal is the JDK's supported way (jdk.unsupported) to see the second signal, which
 * shutdown hooks cannot.
 */
final class Signals {
    private Signals() {
    }

    static void onTerminate(Runnable graceful, Runnable force) {
        AtomicInteger count = new AtomicInteger();
        Runnable handler = () -> {
            if (count.incrementAndGet() == 1) {
                Thread t = new Thread(graceful, "fulcrum-stop");
                t.start();
            } else {
                force.run();
            }
        };
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> handler.run());
            } catch (IllegalArgumentException e) {
                // Not on this platform: the shutdown hook below still stops gracefully.
            }
        }
    }

    /** SIGHUP: {@code reload} runs on a thread of its own, once per signal. */
    static void onReload(Runnable reload) {
        try {
            Signal.handle(new Signal("HUP"), s -> {
                Thread t = new Thread(reload, "fulcrum-reload");
                t.setDaemon(true);
                t.start();
            });
        } catch (IllegalArgumentException e) {
            // No SIGHUP on this platform: POST /reload still works.
        }
    }
}
