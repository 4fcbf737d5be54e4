package fulcrum.config;

import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Rejects keys that reference.conf does not know, so a typo ("helth-check") is an error at start
 * rather than a silently ignored setting. Entries of {@code listeners} and {@code target-groups}
 * are checked against their {@code *-defaults} objects.
 */
final class KeyCheck {
    /** Subtrees whose keys are the user's own names (header names, query keys). */
    private static final Set<String> FREE_FORM = Set.of("header", "query");

    private KeyCheck() {
    }

    static void check(ConfigObject user, ConfigObject reference) {
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            if (!e.getKey().equals("fulcrum")) {
                throw unknown(e.getKey(), e.getValue(), reference.keySet());
            }
        }
        ConfigValue root = user.get("fulcrum");
        if (root == null) {
            return;
        }
        if (root.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of("fulcrum", SettingsException.show(root), "an object { ... }", root.origin());
        }
        ConfigObject ref = (ConfigObject) reference.get("fulcrum");
        ConfigObject fulcrum = (ConfigObject) root;
        for (Map.Entry<String, ConfigValue> e : fulcrum.entrySet()) {
            String key = "fulcrum." + e.getKey();
            ConfigValue v = e.getValue();
            switch (e.getKey()) {
                case "listeners" -> {
                    if (v.valueType() == ConfigValueType.LIST) {
                        int i = 0;
                        for (ConfigValue item : (ConfigList) v) {
                            object(key + "[" + i++ + "]", item, (ConfigObject) ref.get("listener-defaults"));
                        }
                    }
                }
                case "target-groups" -> {
                    if (v.valueType() == ConfigValueType.OBJECT) {
                        for (Map.Entry<String, ConfigValue> g : ((ConfigObject) v).entrySet()) {
                            object(key + "." + g.getKey(), g.getValue(),
                                   (ConfigObject) ref.get("target-group-defaults"));
                        }
                    }
                }
                default -> {
                    if (!ref.containsKey(e.getKey())) {
                        throw unknown(key, v, ref.keySet());
                    }
                    object(key, v, ref.get(e.getKey()));
                }
            }
        }
    }

    /** Rejects keys of {@code user} (at {@code path}) that {@code reference} does not have, recursively. */
    static void object(String path, ConfigValue user, ConfigValue reference) {
        if (user.valueType() != ConfigValueType.OBJECT || reference == null
            || reference.valueType() != ConfigValueType.OBJECT) {
            return; // type mismatches are reported by the binder with the expected type
        }
        ConfigObject ref = (ConfigObject) reference;
        for (Map.Entry<String, ConfigValue> e : ((ConfigObject) user).entrySet()) {
            String key = path + "." + e.getKey();
            if (!ref.containsKey(e.getKey())) {
                throw unknown(key, e.getValue(), ref.keySet());
            }
            if (!FREE_FORM.contains(e.getKey())) {
                object(key, e.getValue(), ref.get(e.getKey()));
            }
        }
    }

    private static SettingsException unknown(String key, ConfigValue v, Set<String> known) {
        return SettingsException.of(key, SettingsException.show(v), "a known key; this one is unknown, known here: "
                                                      + String.join(", ", new TreeSet<>(known)), v.origin());
    }
}
