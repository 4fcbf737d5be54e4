package fulcrum.balance;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which targets keep their sessions through the states a group passes when its balancer starts
 * before its targets: every one while nothing is proven healthy, and an initial or recovering one
 * after another turned healthy first.
 */
class SessionKeepingTest {
    private final TargetGroup g = group();
    private final Target a = g.snapshot().byId("127.0.0.1:1");
    private final Target b = g.snapshot().byId("127.0.0.1:2");

    private static TargetGroup group() {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g { targets = [\"127.0.0.1:1\", \"127.0.0.1:2\"] } }"));
        return new TargetGroup(s.targetGroups().get("g"), new byte[32]);
    }

    @Test
    void anInitialTargetKeepsItsSessionsWhenAnotherTurnsHealthyFirst() {
        assertTrue(g.snapshot().keeps(a) && g.snapshot().keeps(b), "both initial");
        g.checked(a, true);
        g.transition(a, HealthState.HEALTHY, "status 200");
        assertFalse(g.snapshot().isRoutable(b), "new sessions go to the healthy target only");
        assertTrue(g.snapshot().keeps(b), "b's sessions stay while b is initial");
    }

    @Test
    void whileNoTargetIsHealthyEveryLiveTargetKeepsItsSessions() {
        g.checked(a, false);
        g.transition(a, HealthState.UNHEALTHY, "connection refused");
        assertFalse(g.snapshot().isRoutable(a), "new sessions go to the initial target");
        assertTrue(g.snapshot().keeps(a), "nothing is proven healthy: a keeps its sessions");
        g.checked(b, false);
        g.transition(b, HealthState.UNHEALTHY, "connection refused");
        assertTrue(g.snapshot().failOpen());
        assertTrue(g.snapshot().keeps(a) && g.snapshot().keeps(b), "failing open");
    }

    @Test
    void anUnhealthyTargetKeepsItsSessionsWhileItsLatestCheckPasses() {
        g.checked(a, false);
        g.transition(a, HealthState.UNHEALTHY, "connection refused");
        g.checked(b, false);
        g.transition(b, HealthState.UNHEALTHY, "connection refused");
        g.checked(a, true);
        g.checked(b, true);
        g.transition(a, HealthState.HEALTHY, "status 200");
        assertTrue(g.snapshot().keeps(b), "b is on its way back: its sessions stay");
        assertFalse(g.snapshot().isRoutable(b), "but it takes no new ones");
        g.checked(b, false);
        assertFalse(g.snapshot().keeps(b), "found failing again: its sessions move");
    }

    @Test
    void anAnswerToLiveTrafficCountsAsAPassedCheck() {
        g.checked(a, false);
        g.transition(a, HealthState.UNHEALTHY, "connection refused");
        g.checked(b, false);
        g.transition(b, HealthState.UNHEALTHY, "connection refused");
        g.answered(b, 200, false); // failing open placed a session on b, and b answered it
        g.checked(a, true);
        g.transition(a, HealthState.HEALTHY, "status 200");
        assertTrue(g.snapshot().keeps(b), "b's sessions stay");
        g.answered(b, 502, true);
        assertTrue(g.snapshot().keeps(b), "a gateway failure is no passed check, but only checks fail one");
    }

    @Test
    void aDrainingTargetKeepsNothing() {
        g.drain(b, "deregistered");
        assertFalse(g.snapshot().keeps(b));
    }
}
