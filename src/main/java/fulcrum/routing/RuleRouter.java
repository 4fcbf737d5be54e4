package fulcrum.routing;

import fulcrum.balance.TargetGroup;
import fulcrum.config.ActionSettings;
import fulcrum.config.ListenerSettings;
import fulcrum.config.RuleSettings;
import fulcrum.proxy.ListenerContext;
import fulcrum.proxy.RouteDecision;
import io.netty.handler.codec.http.HttpRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static java.util.Objects.requireNonNull;

/**
 * A listener's rules, compiled once: patterns are precompiled, and a request is tested against
 * the rules in priority order; the first that matches decides, the default action otherwise.
 */
public final class RuleRouter implements ListenerContext.Router {
    private static final Logger log = LoggerFactory.getLogger(RuleRouter.class);

    private final Rule[] rules;
    private final Action defaultAction;
    private final boolean tls;

    private RuleRouter(Rule[] rules, Action defaultAction, boolean tls) {
        this.rules = rules;
        this.defaultAction = defaultAction;
        this.tls = tls;
    }

    /** The router of listener {@code s}; {@code groups} holds every group its actions name. */
    public static RuleRouter of(ListenerSettings s, Map<String, TargetGroup> groups) {
        requireNonNull(s, "settings");
        boolean tls = s.tls().enabled();
        byte[] secret = secret(s);
        List<Rule> rules = new ArrayList<>();
        for (RuleSettings rs : s.rules()) {
            rules.add(new Rule(rs.priority(), Condition.compile(rs.conditions()),
                               Action.atPriority(Action.compile(rs.action(), groups, tls, secret), rs.priority())));
        }
        return new RuleRouter(rules.toArray(new Rule[0]), Action.compile(s.defaultAction(), groups, tls, secret), tls);
    }

    /** A key for group-level stickiness cookies that name no secret of their own. */
    private static byte[] secret(ListenerSettings s) {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        boolean needed = false;
        for (RuleSettings r : s.rules()) {
            needed |= generated(r.action());
        }
        if (needed || generated(s.defaultAction())) {
            log.warn("listener {}: a sticky forward has no secret, generated a key for this process; "
                     + "other instances will not honour its cookies", s.name());
        }
        return key;
    }

    private static boolean generated(ActionSettings a) {
        return a instanceof ActionSettings.Forward f && f.stickiness() != null && f.secret() == null;
    }

    @Override
    public RouteDecision route(HttpRequest request, InetSocketAddress client) {
        RequestFacts facts = new RequestFacts(request, client, tls);
        for (Rule r : rules) {
            if (r.matches(facts)) {
                return r.action().decide(facts);
            }
        }
        return defaultAction.decide(facts);
    }

    /** One line per rule, for the start-up log. */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        for (Rule r : rules) {
            out.add("rule " + r.priority() + ": " + r.action().describe());
        }
        out.add("default: " + defaultAction.describe());
        return out;
    }
}
