package fulcrum.admin;

import fulcrum.balance.TargetGroup;
import fulcrum.config.FulcrumSettings;
import fulcrum.proxy.ExchangeObserver;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Counting, sampling and forgetting, without sockets: records as a listener's observer gets them. */
class TrafficStatsTest {
    private static final long MS = 1_000_000;

    private static ExchangeObserver.ExchangeRecord record(String group, String target, int status, long nanos) {
        return new ExchangeObserver.ExchangeRecord("web", null, group, target, "GET", "/", "HTTP/1.1", null, null,
                                                   0, 0, 0, 0, nanos, status, status, 0, 0, 1, null);
    }

    private static Map<String, TargetGroup> group() {
        FulcrumSettings s = FulcrumSettings.from(com.typesafe.config.ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = web, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g { targets = [\"127.0.0.1:3001\"] } }"));
        return Map.of("g", new TargetGroup(s.targetGroups().get("g"), new byte[32]));
    }

    @Test
    void samplesRatesByClassAndLatencyThenForgetsTargetsThatLeft() {
        Map<String, TargetGroup> groups = group();
        TrafficStats stats = new TrafficStats();
        ExchangeObserver o = stats.observer("web");
        assertNull(stats.target("g", "127.0.0.1:3001", true), "nothing before the first request");
        for (int i = 0; i < 10; i++) {
            o.exchangeEnded(record("g", "127.0.0.1:3001", 200, 2 * MS));
        }
        for (int i = 0; i < 5; i++) {
            o.exchangeEnded(record("g", "127.0.0.1:3001", 503, 20 * MS));
            o.exchangeEnded(record("g", "10.0.0.9:80", 404, MS)); // a target that has left the group
        }
        o.exchangeEnded(record("g", null, 503, 0)); // answered by the balancer: no target
        stats.sample(groups);

        TrafficStats.View v = stats.target("g", "127.0.0.1:3001", true);
        assertNotNull(v);
        assertEquals(0.5, v.perSecond()[5] / v.perSecond()[2], 1e-9, "5xx at half the rate of 2xx");
        assertEquals(0, v.perSecond()[4]);
        assertEquals(1, v.series().length);
        assertArrayEquals(v.perSecond(), v.series()[0]);
        assertEquals(15, v.latencyCount());
        // Within the half-octave bucket of the true value: 2 ms in [1.536, 2.048), 20 ms in [16.384, 24.576].
        assertTrue(v.p50Millis() >= 1.536 && v.p50Millis() < 2.048, "p50 " + v.p50Millis());
        assertTrue(v.p99Millis() >= 16.384 && v.p99Millis() <= 24.576, "p99 " + v.p99Millis());
        assertTrue(stats.unassigned("g", false).perSecond()[5] > 0);
        assertNull(stats.unassigned("g", false).series(), "no series unless asked");
        TrafficStats.View listener = stats.listener("web", false);
        assertEquals(21 / (10 / v.perSecond()[2]), listener.requestsPerSecond(), 1e-6, "the listener counts all");

        stats.sample(groups);
        TrafficStats.View quiet = stats.target("g", "127.0.0.1:3001", true);
        assertEquals(2, quiet.series().length);
        assertEquals(0, quiet.requestsPerSecond(), "nothing in the latest sample");
        assertEquals(15, quiet.latencyCount(), "latency is over the last minute, not the latest sample");
        assertNull(stats.target("g", "10.0.0.9:80", false), "a target gone from its group is forgotten once idle");
        assertNotNull(stats.target("g", "127.0.0.1:3001", false), "a member is kept, idle or not");
        assertEquals(2, stats.history());
    }
}
