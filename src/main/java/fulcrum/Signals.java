package fulcrum;

import sun.misc.Signal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * SIGTERM and SIGINT: the first starts a graceful stop, a second one forces the rest closed.
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
}
