package fulcrum.config;

import java.time.Duration;

/** Whether the configuration file is watched for changes, and how often it is looked at. */
public record ReloadSettings(boolean watch, Duration watchInterval) {

    static ReloadSettings from(Reader r) {
        return new ReloadSettings(r.bool("watch"), r.duration("watch-interval", false));
    }
}
