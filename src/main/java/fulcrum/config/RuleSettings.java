package fulcrum.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** One listener rule: when its conditions all match, its action decides; lower priorities first. */
public record RuleSettings(int priority, ConditionSettings conditions, ActionSettings action) {

    /**
     * Binds a listener's {@code rules}, sorted by priority. {@code defaults} is the {@code fulcrum}
     * object (for rule-defaults and action-defaults); {@code groups} the target group names.
     */
    static List<RuleSettings> list(Reader listener, Config defaults, Set<String> groups) {
        Config ruleDefaults = defaults.getConfig("rule-defaults");
        Config actionDefaults = defaults.getConfig("action-defaults");
        List<RuleSettings> out = new ArrayList<>();
        Set<Integer> priorities = new HashSet<>();
        int i = 0;
        for (ConfigValue v : listener.list("rules")) {
            String key = listener.path("rules") + "[" + i++ + "]";
            if (v.valueType() != ConfigValueType.OBJECT) {
                throw SettingsException.of(key, v.render(), "a rule { priority = N, conditions { ... }, action { ... } }",
                                           v.origin());
            }
            KeyCheck.object(key, v, ruleDefaults.root());
            ConfigObject o = (ConfigObject) v;
            Reader r = new Reader(o.toConfig().withFallback(ruleDefaults), key);
            ActionSettings.required(key, o, "priority", "a priority between 1 and 50000");
            ActionSettings.required(key, o, "action", ActionSettings.EXPECTED);
            int priority = r.integer("priority", 1, 50_000);
            if (!priorities.add(priority)) {
                throw r.error("priority", priority, "a priority no other rule of this listener has");
            }
            ConditionSettings conditions = ConditionSettings.from(r.child("conditions"));
            ActionSettings action = ActionSettings.from(r.path("action"), o.get("action"), actionDefaults, groups);
            out.add(new RuleSettings(priority, conditions, action));
        }
        out.sort((a, b) -> Integer.compare(a.priority(), b.priority()));
        return out;
    }
}
