package fulcrum.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigMemorySize;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads typed values out of one configuration object and turns every failure into a
 * {@link SettingsException} naming the full key, the value, what was expected and its origin.
 */
public final class Reader {
    private final Config config;
    private final String prefix;
    /** What {@code config} was merged over (target-group-defaults), or null: reference.conf only. */
    private final Config defaults;

    public Reader(Config config, String prefix) {
        this(config, prefix, null);
    }

    Reader(Config config, String prefix, Config defaults) {
        this.config = config;
        this.prefix = prefix;
        this.defaults = defaults;
    }

    public Reader child(String key) {
        Config d = defaults != null && defaults.hasPath(quote(key)) ? defaults.getConfig(quote(key)) : null;
        return new Reader(config.getConfig(quote(key)), path(key), d);
    }

    public Config config() {
        return config;
    }

    public String path(String key) {
        return prefix.isEmpty() ? key : prefix + "." + key;
    }

    public boolean isNull(String key) {
        return !config.hasPath(quote(key));
    }

    public ConfigOrigin origin(String key) {
        if (config.hasPath(quote(key))) {
            return config.getValue(quote(key)).origin();
        }
        ConfigValue v = config.root().get(key); // a null value: getValue would throw
        return v != null ? v.origin() : config.origin();
    }

    /**
     * Whether this object sets {@code key} itself, rather than inheriting it from reference.conf or
     * from the defaults it was merged over: a key that means nothing here is an error only then.
     */
    public boolean setHere(String key) {
        ConfigOrigin o = origin(key);
        if (defaults != null && defaults.hasPathOrNull(quote(key))) {
            ConfigValue d = defaults.hasPath(quote(key)) ? defaults.getValue(quote(key)) : defaults.root().get(key);
            return d == null || !o.equals(d.origin());
        }
        return !"reference.conf".equals(o.resource());
    }

    public SettingsException error(String key, Object value, String expected) {
        return SettingsException.of(path(key), value, expected, origin(key));
    }

    public String string(String key) {
        ConfigValue v = value(key, "a string");
        if (v.valueType() == ConfigValueType.OBJECT || v.valueType() == ConfigValueType.LIST) {
            throw error(key, SettingsException.show(v), "a string");
        }
        return String.valueOf(v.unwrapped());
    }

    /** A string, or null when the key is null or absent. */
    public String optionalString(String key) {
        return isNull(key) ? null : string(key);
    }

    public boolean bool(String key) {
        try {
            return config.getBoolean(quote(key));
        } catch (ConfigException.WrongType | ConfigException.Missing e) {
            throw error(key, render(key), "true or false");
        }
    }

    public int integer(String key, int min, int max) {
        int v;
        try {
            v = config.getInt(quote(key));
        } catch (ConfigException.WrongType | ConfigException.Missing e) {
            throw error(key, render(key), "an integer");
        }
        if (v < min || v > max) {
            throw error(key, v, range(min, max));
        }
        return v;
    }

    /** A positive duration (or >= 0 when {@code allowZero}). */
    public Duration duration(String key, boolean allowZero) {
        Duration d;
        try {
            d = config.getDuration(quote(key));
        } catch (ConfigException.BadValue | ConfigException.WrongType 
                 | ConfigException.Missing e) {
            throw error(key, render(key), "a duration such as 500ms, 30s, 1d");
        }
        if (d.isNegative() || (!allowZero && d.isZero())) {
            throw error(key, render(key), allowZero ? ">= 0" : "> 0");
        }
        return d;
    }

    public long bytes(String key, long min, long max) {
        long v;
        try {
            ConfigMemorySize size = config.getMemorySize(quote(key));
            v = size.toBytes();
        } catch (ConfigException.BadValue | ConfigException.WrongType 
                 | ConfigException.Missing | IllegalArgumentException e) {
            throw error(key, render(key), "a size such as 16KiB or 1MiB");
        }
        if (v < min || v > max) {
            throw error(key, render(key), range(min, max) + " bytes");
        }
        return v;
    }

    public <E extends Enum<E>> E enumeration(String key, Class<E> type) {
        String s = string(key);
        for (E e : type.getEnumConstants()) {
            if (settingName(e).equals(s)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(settingName(e));
        }
        throw error(key, s, "one of " + String.join(", ", names));
    }

    public List<String> strings(String key) {
        ConfigValue v = value(key, "a list of strings");
        if (v.valueType() != ConfigValueType.LIST) {
            throw error(key, SettingsException.show(v), "a list of strings");
        }
        List<String> out = new ArrayList<>();
        int i = 0;
        for (ConfigValue e : (ConfigList) v) {
            if (e.valueType() == ConfigValueType.OBJECT || e.valueType() == ConfigValueType.LIST
                || e.valueType() == ConfigValueType.NULL) {
                throw SettingsException.of(path(key) + "[" + i + "]", SettingsException.show(e), "a string", e.origin());
            }
            out.add(String.valueOf(e.unwrapped()));
            i++;
        }
        return out;
    }

    public ConfigList list(String key) {
        ConfigValue v = value(key, "a list");
        if (v.valueType() != ConfigValueType.LIST) {
            throw error(key, SettingsException.show(v), "a list");
        }
        return (ConfigList) v;
    }

    public ConfigObject object(String key) {
        ConfigValue v = value(key, "an object");
        if (v.valueType() != ConfigValueType.OBJECT) {
            throw error(key, SettingsException.show(v), "an object");
        }
        return (ConfigObject) v;
    }

    public ConfigValue value(String key, String expected) {
        if (!config.hasPathOrNull(quote(key))) {
            throw error(key, "(missing)", expected);
        }
        if (config.getIsNull(quote(key))) {
            throw error(key, "null", expected);
        }
        return config.getValue(quote(key));
    }

    private String render(String key) {
        if (!config.hasPathOrNull(quote(key))) {
            return "(missing)";
        }
        return config.getIsNull(quote(key)) ? "null" : SettingsException.show(config.getValue(quote(key)));
    }

    static String settingName(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static String range(long min, long max) {
        if (max == Integer.MAX_VALUE || max == Long.MAX_VALUE) {
            return ">= " + min;
        }
        return "between " + min + " and " + max;
    }

    /** Keys may hold characters HOCON treats as path syntax (a group named "api.v2"). */
    static String quote(String key) {
        if (key.indexOf('.') < 0 && key.indexOf('"') < 0 && key.indexOf(' ') < 0 && key.indexOf(':') < 0) {
            return key;
        }
        return com.typesafe.config.ConfigUtil.joinPath(key);
    }
}
