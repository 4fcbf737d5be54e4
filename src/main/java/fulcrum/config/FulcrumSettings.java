package fulcrum.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Everything the balancer is configured with, bound once from one HOCON file. */
public record FulcrumSettings(int ioThreads, TransportKind transport, Duration shutdownGrace,
                              List<ListenerSettings> listeners, Map<String, TargetGroupSettings> targetGroups,
                              AdminSettings admin, AccessLogSettings accessLog, ReloadSettings reload,
                              ClusterSettings cluster) {

    /** The event-loop transport asked for; {@code fulcrum.server.Transport} says what each means. */
    public enum TransportKind { AUTO, IO_URING, EPOLL, NIO }

    public FulcrumSettings {
        listeners = List.copyOf(listeners);
        targetGroups = Collections.unmodifiableMap(new LinkedHashMap<>(targetGroups));
    }

    /** Parses, checks and binds {@code file} over the defaults of reference.conf. */
    public static FulcrumSettings load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new SettingsException(file + ": no such file");
        }
        if (!Files.isReadable(file)) {
            throw new SettingsException(file + ": not readable");
        }
        Config user;
        try {
            user = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults()
                    .setSyntax(ConfigSyntax.CONF).setAllowMissing(false));
        } catch (ConfigException e) {
            throw new SettingsException(e.getMessage());
        }
        return from(user);
    }

    /** Checks and binds an already parsed (unresolved) user configuration. */
    public static FulcrumSettings from(Config user) {
        Config reference = ConfigFactory.defaultReference();
        Config merged;
        Config userResolved;
        try {
            merged = user.withFallback(reference).resolve();
            userResolved = user.resolveWith(merged);
        } catch (ConfigException e) {
            throw new SettingsException(e.getMessage());
        }
        KeyCheck.check(userResolved.root(), reference.root());
        return bind(new Reader(merged.getConfig("fulcrum"), "fulcrum"));
    }

    private static FulcrumSettings bind(Reader r) {
        Config defaults = r.config();
        Map<String, TargetGroupSettings> groups = new LinkedHashMap<>();
        ConfigObject groupObjects = r.object("target-groups");
        Config groupDefaults = defaults.getConfig("target-group-defaults");
        for (Map.Entry<String, ConfigValue> e : groupObjects.entrySet()) {
            String name = e.getKey();
            Reader gr = new Reader(objectWithDefaults(r.path("target-groups") + "." + name, e.getValue(),
                                                      groupDefaults), r.path("target-groups") + "." + name,
                                   groupDefaults);
            groups.put(name, TargetGroupSettings.from(name, gr));
        }

        List<ListenerSettings> listeners = new ArrayList<>();
        Config listenerDefaults = defaults.getConfig("listener-defaults");
        Set<String> names = new HashSet<>();
        Set<HostPort> binds = new HashSet<>();
        int i = 0;
        for (ConfigValue v : r.list("listeners")) {
            String key = r.path("listeners") + "[" + i++ + "]";
            Reader lr = new Reader(objectWithDefaults(key, v, listenerDefaults), key);
            ListenerSettings l = ListenerSettings.from(lr, defaults, groups.keySet());
            if (!names.add(l.name())) {
                throw lr.error("name", l.name(), "a name no other listener has");
            }
            // Port 0 takes a different free port each time: two such listeners never clash.
            if (l.bind().port() != 0 && !binds.add(l.bind())) {
                throw lr.error("bind", l.bind(), "an address no other listener binds");
            }
            listeners.add(l);
        }
        if (listeners.isEmpty()) {
            throw r.error("listeners", "[]", "at least one listener");
        }
        return new FulcrumSettings(r.integer("io-threads", 0, 1024), r.enumeration("transport", TransportKind.class),
                                   r.duration("shutdown-grace", true), listeners, groups,
                                   AdminSettings.from(r.child("admin")), AccessLogSettings.from(r.child("access-log")),
                                   ReloadSettings.from(r.child("reload")), ClusterSettings.from(r.child("cluster")));
    }

    private static Config objectWithDefaults(String key, ConfigValue v, Config defaults) {
        if (v.valueType() != ConfigValueType.OBJECT) {
            throw SettingsException.of(key, SettingsException.show(v), "an object { ... }", v.origin());
        }
        return ((ConfigObject) v).toConfig().withFallback(defaults);
    }
}
