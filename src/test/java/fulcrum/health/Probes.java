package fulcrum.health;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.HealthCheckSettings;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/** What the probe tests share: settings bound as from a file, and one probe of a local port. */
final class Probes {
    private Probes() {
    }

    /** The health-check settings of a group of {@code version} with {@code healthCheck} (interval 5s, timeout 2s). */
    static HealthCheckSettings settings(String version, String healthCheck) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(
                "fulcrum { listeners = [{ name = t, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                + "target-groups.app { targets = [\"127.0.0.1:1\"], protocol-version = " + version + "\n"
                + " health-check { interval = 5s, timeout = 2s\n" + healthCheck + " } } }"));
        return s.targetGroups().get("app").healthCheck();
    }

    static ProbeResult probe(EventLoopGroup loops, HealthCheckSettings hc, int port) throws Exception {
        return Probe.run(hc, new InetSocketAddress("127.0.0.1", port), "127.0.0.1:" + port, loops.next(),
                         NioSocketChannel.class).get(5, TimeUnit.SECONDS);
    }
}
