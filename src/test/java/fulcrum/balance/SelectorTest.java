package fulcrum.balance;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Per-group algorithm and per-target weight. */
class SelectorTest {

    private static TargetGroup group(String algorithm, String targets) {
        return group(algorithm, targets, "");
    }

    private static TargetGroup group(String algorithm, String targets, String more) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g { algorithm = " + algorithm + ", health-check.enabled = false, targets = ["
                + targets + "]\n" + more + " } }"));
        return new TargetGroup(s.targetGroups().get("g"), new byte[32]);
    }

    private static final String WEIGHTED = "{ address = \"127.0.0.1:1\", weight = 3 }, "
                                           + "{ address = \"127.0.0.1:2\", weight = 1 }, "
                                           + "{ address = \"127.0.0.1:3\", weight = 0 }";

    @Test
    void roundRobinSpreadsByWeight() {
        TargetGroup g = group("round-robin", WEIGHTED);
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < 4000; i++) {
            seen.merge(g.selector().select(g.snapshot(), null).id(), 1, Integer::sum);
        }
        assertEquals(3000, seen.get("127.0.0.1:1"), seen.toString());
        assertEquals(1000, seen.get("127.0.0.1:2"), seen.toString());
        assertEquals(null, seen.get("127.0.0.1:3"), "weight 0 gets nothing");
    }

    @Test
    void leastOutstandingPrefersTheIdleTarget() {
        TargetGroup g = group("least-outstanding-requests", "\"127.0.0.1:1\", \"127.0.0.1:2\"");
        Target busy = g.snapshot().byId("127.0.0.1:1");
        busy.requestStarted();
        busy.requestStarted();
        for (int i = 0; i < 10; i++) {
            assertEquals("127.0.0.1:2", g.selector().select(g.snapshot(), null).id());
        }
        Target idle = g.snapshot().byId("127.0.0.1:2");
        for (int i = 0; i < 3; i++) {
            idle.requestStarted();
        }
        assertEquals("127.0.0.1:1", g.selector().select(g.snapshot(), null).id(), "now the other is busier");
    }

    @Test
    void leastOutstandingWeighsLoadByWeight() {
        TargetGroup g = group("least-outstanding-requests", "{ address = \"127.0.0.1:1\", weight = 3 }, "
                                                            + "{ address = \"127.0.0.1:2\", weight = 1 }");
        Target heavy = g.snapshot().byId("127.0.0.1:1");
        heavy.requestStarted(); // (1+1)/3 against (0+1)/1 for the light one
        assertEquals("127.0.0.1:1", g.selector().select(g.snapshot(), null).id());
        heavy.requestStarted();
        heavy.requestStarted(); // (3+1)/3 against 1
        assertEquals("127.0.0.1:2", g.selector().select(g.snapshot(), null).id());
    }

    @Test
    void weightZeroGetsNothingFromEitherAlgorithm() {
        TargetGroup g = group("least-outstanding-requests", WEIGHTED);
        // Busy weighted targets: the idle weight-0 one would look least loaded, yet takes nothing.
        for (int i = 0; i < 3; i++) {
            g.snapshot().byId("127.0.0.1:1").requestStarted();
        }
        g.snapshot().byId("127.0.0.1:2").requestStarted();
        g.snapshot().byId("127.0.0.1:2").requestStarted();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            seen.add(g.selector().select(g.snapshot(), null).id());
        }
        assertEquals(Set.of("127.0.0.1:1"), seen);
        TargetGroup allZero = group("least-outstanding-requests", "{ address = \"127.0.0.1:1\", weight = 0 }");
        assertEquals("127.0.0.1:1", allZero.selector().select(allZero.snapshot(), null).id(),
                     "every weight 0: spread anyway rather than refuse");
    }

    @Test
    void everyAlgorithmSkipsTriedTargetsAndTakesAnEjectedOneOnlyWhenNothingElseIsLeft() {
        for (String algorithm : List.of("round-robin", "least-outstanding-requests", "least-connections")) {
            TargetGroup g = group(algorithm, "\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\"",
                                  "outlier-detection { consecutive-gateway-failure = 1, max-ejection-percent = 50 }");
            Target a = g.snapshot().byId("127.0.0.1:1");
            Target b = g.snapshot().byId("127.0.0.1:2");
            Target c = g.snapshot().byId("127.0.0.1:3");
            for (int i = 0; i < 6; i++) {
                assertEquals(c, g.selector().select(g.snapshot(), List.of(a, b)), algorithm);
            }
            assertNull(g.selector().select(g.snapshot(), List.of(a, b, c)), algorithm);
            assertNotNull(g.answered(a, 502, true), algorithm + ": a ejected");
            Set<Target> seen = new HashSet<>();
            for (int i = 0; i < 12; i++) {
                seen.add(g.selector().select(g.snapshot(), null));
            }
            assertEquals(Set.of(b, c), seen, algorithm + ": the ejected one is passed over");
            assertEquals(a, g.selector().select(g.snapshot(), List.of(b, c)), algorithm + ": better than none");
        }
    }
}
