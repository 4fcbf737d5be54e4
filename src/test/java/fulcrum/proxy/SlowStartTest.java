package fulcrum.proxy;

import fulcrum.balance.HealthState;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.config.HostPort;
import fulcrum.config.TargetSpec;
import fulcrum.testing.FulcrumFixture;
import fulcrum.testing.RawClient;
import fulcrum.testing.TwoBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code slow-start}: a target registered into a serving group gets a share of new requests that
 * rises linearly from nothing to its fair share over the window, instead of half of them at once.
 */
@Timeout(120)
class SlowStartTest {
    private static final long WINDOW_MS = 6000;

    @RegisterExtension
    final TwoBackends backends = new TwoBackends();

    /** Requests sent in each second after b turned healthy, and how many of them b served. */
    private record Buckets(int[] sent, int[] onB) {
        double share(int fromSecond, int toSecond) {
            int s = 0;
            int n = 0;
            for (int i = fromSecond; i < toSecond; i++) {
                s += onB[i];
                n += sent[i];
            }
            return n == 0 ? Double.NaN : s / (double) n;
        }
    }

    private Buckets run(String slowStart, int seconds) throws Exception {
        FulcrumFixture lb = backends.closeAfter(FulcrumFixture.forTargets("slow-start = " + slowStart + "\n"
                                       + "health-check { path = \"/health\", interval = 200ms, timeout = 150ms }",
                                       backends.a().address()));
        TargetGroup group = lb.balancer().targetGroups().get("app");
        await(group.snapshot().byId(backends.a().address()), HealthState.HEALTHY);
        Target added = group.register(new TargetSpec(HostPort.parse(backends.b().address()), 1));
        long t0 = await(added, HealthState.HEALTHY);
        Buckets buckets = new Buckets(new int[seconds], new int[seconds]);
        // Four clients, each one request at a time on its own connection.
        List<Future<?>> clients = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int k = 0; k < 4; k++) {
                clients.add(pool.submit(() -> {
                    try (RawClient c = new RawClient(lb.port())) {
                        while (true) {
                            int second = (int) ((System.nanoTime() - t0) / 1_000_000_000L);
                            if (second >= seconds) {
                                return null;
                            }
                            c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                            RawClient.Response r = c.read();
                            assertEquals(200, r.status());
                            synchronized (buckets) {
                                buckets.sent[second]++;
                                if (r.body().equals("b")) {
                                    buckets.onB[second]++;
                                }
                            }
                        }
                    }
                }));
            }
            for (Future<?> f : clients) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        StringBuilder shares = new StringBuilder();
        for (int i = 0; i < seconds; i++) {
            shares.append(String.format(" %d:%.2f(%d)", i, buckets.share(i, i + 1), buckets.sent[i]));
        }
        System.out.println("slow-start " + slowStart + ": b's share by second after it turned healthy:" + shares);
        return buckets;
    }

    private static long await(Target t, HealthState state) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (t.state() != state) {
            assertTrue(System.nanoTime() < deadline, () -> t + " never " + state.label() + ": " + t.state().label());
            Thread.sleep(2);
        }
        return System.nanoTime();
    }

    @Test
    void aJoiningTargetsShareRampsUpLinearly() throws Exception {
        Buckets r = run(WINDOW_MS / 1000 + "s", 9);
        // Expected (round-robin between two): b's share at second k is about (k + 0.5) / 6 / 2 while
        // the window runs, then 0.5. Bounds are generous: the machine may be loaded.
        double first = r.share(0, 1);
        double early = r.share(0, 3);
        double late = r.share(3, 6);
        double after = r.share(7, 9);
        assertTrue(first < 0.2, "first second: " + first);
        assertTrue(early < late, "rising: " + early + " then " + late);
        assertTrue(late > 0.15 && late < 0.45, "seconds 3-6: " + late);
        assertTrue(after > 0.4 && after < 0.6, "after the window: " + after);
    }

    @Test
    void withoutSlowStartAJoiningTargetTakesHalfAtOnce() throws Exception {
        Buckets r = run("0s", 2);
        double first = r.share(0, 1);
        assertTrue(first > 0.4 && first < 0.6, "first second: " + first);
    }
}
