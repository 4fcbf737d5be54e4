package fulcrum.hardening;

import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An event loop that ends while Fulcrum runs (an error escaped it) is reported, which the
 * command line turns into an exit, and a stop still finishes within its grace although the
 * dead loop's connections can no longer be reached.
 */
class DeadLoopTest {
    @Test
    void aDeadLoopIsReportedAndAStopStillEnds() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.RECORDER);
             FulcrumFixture lb = FulcrumFixture.start(
                     "fulcrum { io-threads = 2, shutdown-grace = 1s\n"
                     + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                     + "target-groups.app { targets = [\"" + backend.address() + "\"], health-check.enabled = false } }")) {
            CompletableFuture<String> died = new CompletableFuture<>();
            lb.balancer().onFatal(died::complete);
            List<RawClient> idle = new ArrayList<>();
            try {
                // Keep-alive connections on both loops.
                for (int i = 0; i < 6; i++) {
                    RawClient c = new RawClient(lb.port());
                    idle.add(c);
                    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                    assertEquals(200, c.read().status());
                }
                EventExecutor loop = lb.balancer().loops().iterator().next();
                loop.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);

                String reason = died.get(5, TimeUnit.SECONDS);
                assertTrue(reason.startsWith("event loop 0 of ") && reason.contains("ended on its own"), reason);
                long t = System.nanoTime();
                CompletableFuture<Void> stop = CompletableFuture.runAsync(() -> lb.stop(Duration.ofSeconds(1)));
                stop.get(10, TimeUnit.SECONDS);
                long ms = (System.nanoTime() - t) / 1_000_000;
                assertTrue(ms < 5000, "stopped in " + ms + " ms");
            } finally {
                for (RawClient c : idle) {
                    c.close();
                }
            }
        }
    }
}
