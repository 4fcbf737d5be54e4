package fulcrum.config;

import com.typesafe.config.ConfigOrigin;

/** A configuration that cannot be used; the message names the key, the value and where it was set. */
public final class SettingsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SettingsException(String message) {
        super(message);
    }

    /** {@code key: value (expected: ...) at file:line}. */
    static SettingsException of(String key, Object value, String expected, ConfigOrigin origin) {
        return new SettingsException(key + ": " + value + " (expected: " + expected + ")" + at(origin));
    }

    /** A value as the user wrote it, on one line: strings bare, the rest as compact JSON. */
    static String show(com.typesafe.config.ConfigValue v) {
        if (v == null) {
            return "null";
        }
        if (v.valueType() == com.typesafe.config.ConfigValueType.STRING) {
            String s = (String) v.unwrapped();
            return s.isEmpty() || s.isBlank() || s.indexOf(' ') >= 0 ? '"' + s + '"' : s;
        }
        return v.render(com.typesafe.config.ConfigRenderOptions.concise());
    }

    static String at(ConfigOrigin origin) {
        if (origin == null) {
            return "";
        }
        if (origin.filename() != null) {
            return origin.lineNumber() > 0 ? " at " + origin.filename() + ":" + origin.lineNumber()
                                           : " at " + origin.filename();
        }
        if (origin.resource() != null) {
            return " at " + origin.resource() + (origin.lineNumber() > 0 ? ":" + origin.lineNumber() : "");
        }
        return " at " + origin.description();
    }
}
