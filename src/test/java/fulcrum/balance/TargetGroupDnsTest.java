package fulcrum.balance;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TargetGroupDnsTest {

    private static TargetGroup group(String targets) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = l, bind = \"127.0.0.1:0\", default-target-group = g }]\n"
                + "target-groups.g.targets = [" + targets + "] }"));
        return new TargetGroup(s.targetGroups().get("g"), new byte[32]);
    }

    @Test
    void aHostNameStandsForEachOfItsAddresses() throws Exception {
        TargetGroup g = group("\"localhost:3001\", \"127.0.0.2:3002\"");
        Set<String> expected = new TreeSet<>();
        for (InetAddress a : InetAddress.getAllByName("localhost")) {
            String ip = io.netty.util.NetUtil.toAddressString(a);
            expected.add((ip.contains(":") ? "[" + ip + "]" : ip) + ":3001");
        }
        expected.add("127.0.0.2:3002");
        Set<String> ids = new TreeSet<>();
        for (Target t : g.snapshot().all()) {
            ids.add(t.id());
            if (t.id().endsWith(":3001")) {
                assertEquals("localhost:3001", t.address().toString());
                assertTrue(t.resolvedFromName());
            } else {
                assertFalse(t.resolvedFromName());
            }
        }
        assertEquals(expected, ids);
        assertTrue(g.hasNamedTargets());

        List<Target> vanished = new ArrayList<>();
        int before = g.snapshot().all().size();
        g.refreshDns(vanished::add);
        assertEquals(List.of(), vanished, "the same records change nothing");
        assertEquals(before, g.snapshot().all().size());
    }

    @Test
    void anUnresolvableNameIsKeptAndFailsLikeADeadTarget() {
        TargetGroup g = group("\"no-such-host.invalid:3001\"");
        Target t = g.snapshot().all().get(0);
        assertEquals("no-such-host.invalid:3001", t.id());
        assertTrue(t.socketAddress().isUnresolved());
    }
}
