package fulcrum.testing;

import com.typesafe.config.ConfigFactory;
import fulcrum.config.FulcrumSettings;
import fulcrum.server.Balancer;

import java.net.InetSocketAddress;
import java.time.Duration;

/** A real balancer in the test's process, configured from HOCON text, on an ephemeral port. */
public final class FulcrumFixture implements AutoCloseable {
    private final Balancer balancer;

    private FulcrumFixture(Balancer balancer) {
        this.balancer = balancer;
    }

    /**
     * Starts a balancer from {@code hocon} (the contents of a {@code fulcrum { ... }} file). A
     * listener bound to port 0 gets an ephemeral port: see {@link #port()}.
     */
    public static FulcrumFixture start(String hocon) {
        FulcrumSettings s = FulcrumSettings.from(ConfigFactory.parseString(hocon));
        return new FulcrumFixture(Balancer.start(s));
    }

    /** One listener on an ephemeral port in front of {@code targets}, with extra group settings. */
    public static FulcrumFixture forTargets(String groupSettings, String... targets) {
        StringBuilder t = new StringBuilder();
        for (String s : targets) {
            t.append(t.length() == 0 ? "" : ", ").append('"').append(s).append('"');
        }
        return start("fulcrum { io-threads = 2, shutdown-grace = 2s\n"
                     + "listeners = [{ name = test, bind = \"127.0.0.1:0\", default-target-group = app }]\n"
                     + "target-groups.app { targets = [" + t + "]\n" + groupSettings + "\n} }");
    }

    public Balancer balancer() {
        return balancer;
    }

    public int port() {
        return balancer.listenerAddress(0).getPort();
    }

    public InetSocketAddress address() {
        return balancer.listenerAddress(0);
    }

    public String url(String path) {
        return "http://127.0.0.1:" + port() + path;
    }

    public void stop(Duration grace) {
        balancer.stop(grace);
    }

    @Override
    public void close() {
        balancer.stop(Duration.ofSeconds(1));
    }
}
