package fulcrum.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * HTTP backends "a" and "b" (they answer with their name), started before each test and closed
 * after it, after the Fulcrum a test put in front of them with {@link #balance} or
 * {@link #closeAfter}. For {@code @RegisterExtension final TwoBackends backends = new TwoBackends();}
 */
public final class TwoBackends implements BeforeEachCallback, AfterEachCallback {
    private HttpBackend a;
    private HttpBackend b;
    private FulcrumFixture balancer;

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        a = HttpBackend.start("a");
        b = HttpBackend.start("b");
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (balancer != null) {
            balancer.close();
            balancer = null;
        }
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    public HttpBackend a() {
        return a;
    }

    public HttpBackend b() {
        return b;
    }

    /** Fulcrum with {@code groupSettings} in front of a and b; closed after the test. */
    public FulcrumFixture balance(String groupSettings) {
        return closeAfter(FulcrumFixture.forTargets(groupSettings, a.address(), b.address()));
    }

    /** {@code fulcrum}, closed after the test before the backends. */
    public FulcrumFixture closeAfter(FulcrumFixture fulcrum) {
        balancer = fulcrum;
        return fulcrum;
    }
}
