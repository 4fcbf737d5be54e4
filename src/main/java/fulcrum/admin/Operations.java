package fulcrum.admin;

import fulcrum.balance.HealthState;
import fulcrum.balance.SessionStore;
import fulcrum.balance.Target;
import fulcrum.balance.TargetGroup;
import fulcrum.cluster.Cluster;
import fulcrum.cluster.OverlayEntry;
import fulcrum.config.FulcrumSettings;
import fulcrum.config.HostPort;
import fulcrum.config.SettingsException;
import fulcrum.config.TargetSpec;
import fulcrum.proxy.ExchangeObserver;
import fulcrum.server.Balancer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The operations side of a running balancer: metrics, access log, the admin API, draining,
 * reloads. Every change to the running balancer (registrations, drains, reloads) runs on one
 * thread of its own, so changes are serialised and nothing blocking (reading a file, resolving a
 * target's name) runs on an event loop.
 */
public final class Operations implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Operations.class);

    private final Path configFile;
    private final ScheduledExecutorService ops;
    private final Metrics metrics;
    private final TrafficStats traffic = new TrafficStats();
    private final StateLog stateLog = new StateLog();
    private final AccessLog accessLog;
    /** Set once, while the balancer starts (before its listeners) or right after. */
    private volatile Balancer balancer;
    private volatile Drainer drainer;
    private final Reloader reloader;
    private final AdminServer admin;
    /** Null unless several instances share sessions and targets through Redis. */
    private final Cluster cluster;
    private volatile FulcrumSettings running;
    private byte[] fileDigest;
    private volatile boolean stopped;
    private volatile Thread opsThread;

    /** What a reload did; {@code error} is set (and nothing changed) when the file was invalid. */
    public record ReloadResult(String error, List<String> applied, List<String> needRestart) {
        public boolean ok() {
            return error == null;
        }
    }

    private Operations(FulcrumSettings settings, Path configFile) {
        this.running = settings;
        this.configFile = configFile;
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "fulcrum-ops");
            t.setDaemon(true);
            opsThread = t;
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        this.ops = e;
        this.metrics = new Metrics();
        this.accessLog = settings.accessLog().enabled() ? AccessLog.start(settings.accessLog()) : null;
        this.cluster = Cluster.of(settings.cluster());
        if (cluster != null) {
            cluster.connect();
        }
        Balancer b;
        try {
            boolean admin = settings.admin().enabled(); // only the admin API reads the traffic kept
            b = Balancer.start(settings, new Balancer.Hooks(ls -> {
                ExchangeObserver m = admin ? Observers.both(metrics.observer(ls), traffic.observer(ls.name()))
                                           : metrics.observer(ls);
                return accessLog == null ? m : Observers.both(m, accessLog);
            }, metrics.probes(), stateLog, cluster == null ? SessionStore.NONE : cluster.sessions(), started -> {
                this.balancer = started;
                this.drainer = new Drainer(started.pools(), ops);
                if (cluster != null) {
                    joinCluster(settings);
                }
            }));
        } catch (RuntimeException ex) {
            shutdownSide();
            throw ex;
        }
        metrics.attach(b);
        // Targets that leave DNS drain like deregistered ones, paced, on the operations thread.
        b.deregistration((g, t) -> ops.execute(() -> drainer.drain(g, t, "no longer in DNS")));
        this.reloader = new Reloader(b, drainer, this::withOverlay);
        if (settings.admin().enabled()) {
            long sample = TimeUnit.SECONDS.toNanos(TrafficStats.SAMPLE_SECONDS);
            ops.scheduleAtFixedRate(() -> {
                try {
                    traffic.sample(b.targetGroups());
                } catch (RuntimeException ex) {
                    log.error("sampling traffic failed", ex); // and the next sample tries again
                }
            }, sample, sample, TimeUnit.NANOSECONDS);
        }
        AdminServer a = null;
        if (settings.admin().enabled()) {
            try {
                a = AdminServer.start(settings.admin(), this);
            } catch (fulcrum.server.BindException ex) {
                if (!ex.inUse() || settings.admin().bindChosen()) {
                    b.stop(Duration.ZERO);
                    shutdownSide();
                    throw ex;
                }
                // The default port, taken (by another instance on this host, say): this one serves without it.
                log.warn("{}; running without the admin API: set fulcrum.admin.bind to give this instance one",
                         ex.getMessage());
            } catch (RuntimeException ex) {
                b.stop(Duration.ZERO);
                shutdownSide();
                throw ex;
            }
        }
        this.admin = a;
    }

    /**
     * Starts the balancer of {@code settings} with metrics and access log attached, then the admin
     * API. {@code configFile} is what reloads read; null: reloads are refused.
     */
    public static Operations start(FulcrumSettings settings, Path configFile) {
        Operations o = new Operations(requireNonNull(settings, "settings"), configFile);
        if (configFile != null && settings.reload().watch()) {
            o.watch(settings.reload().watchInterval());
        }
        return o;
    }

    public Balancer balancer() {
        return balancer;
    }

    /** Where the admin API listens; null when it is disabled. */
    public InetSocketAddress adminAddress() {
        return admin == null ? null : admin.address();
    }

    /** The settings last applied. */
    public FulcrumSettings settings() {
        return running;
    }

    // ---- operations, each run on the operations thread ----

    /** Reads the configuration file again and applies it, or changes nothing when it is invalid. */
    public ReloadResult reload() {
        return call(this::reloadNow);
    }

    /** Registers {@code address} in {@code group}; it starts initial. */
    public Target register(String group, String address, int weight) {
        return call(() -> {
            TargetGroup g = group(group);
            HostPort hp = address(address);
            if (weight < 0 || weight > 999) {
                throw new AdminException(400, "weight " + weight + " is not between 0 and 999");
            }
            Target existing = g.snapshot().byId(hp.toString());
            if (existing != null) {
                throw new AdminException(409, "target " + hp + " is already registered in " + g.name() + " ("
                                              + existing.state().label() + ")");
            }
            Target t = g.register(new TargetSpec(hp, weight));
            if (cluster != null) {
                cluster.record(g.name(), hp.toString(), OverlayEntry.Op.REGISTER, weight);
            }
            return t;
        });
    }

    /** Deregisters {@code address} from {@code group}: it drains, then is removed. */
    public Target deregister(String group, String address) {
        return call(() -> {
            TargetGroup g = group(group);
            HostPort hp = address(address);
            Target t = g.snapshot().byId(hp.toString());
            if (t == null) {
                throw new AdminException(404, "target " + hp + " is not registered in " + g.name());
            }
            if (t.state() == HealthState.DRAINING) {
                throw new AdminException(409, "target " + hp + " is already draining");
            }
            drainer.drain(g, t, "deregistered");
            if (cluster != null) {
                cluster.record(g.name(), hp.toString(), OverlayEntry.Op.DEREGISTER, t.weight());
            }
            return t;
        });
    }

    /**
     * Joins the cluster before the listeners accept anything: the overlay's targets applied and
     * every live session read, so that a restarted instance does not guess at sessions it could
     * know. Redis being down delays the start by connect-timeout + command-timeout at most.
     */
    private void joinCluster(FulcrumSettings settings) {
        metrics.attach(cluster);
        cluster.start(entries -> ops.execute(() -> applyOverlay(entries)), this::healthView, this::targetGroups);
        Duration wait = settings.cluster().connectTimeout().plus(settings.cluster().commandTimeout());
        if (!cluster.awaitFirstSync(wait)) {
            log.warn("cluster: targets and sessions not read from redis within {} ms; starting with the file's "
                     + "targets, the rest follows when redis answers", wait.toMillis());
        }
    }

    /** The cluster this instance is part of; null when it runs alone. */
    Cluster cluster() {
        return cluster;
    }

    /**
     * Brings the groups in line with the cluster's overlay (on the operations thread): targets it
     * registers and this instance lacks are added; targets it deregisters drain. A target still
     * draining is added back by a later sync, once removed.
     */
    private void applyOverlay(Collection<OverlayEntry> entries) {
        for (OverlayEntry e : entries) {
            TargetGroup g = balancer.targetGroups().get(e.group());
            HostPort hp;
            try {
                hp = HostPort.parse(e.target());
            } catch (IllegalArgumentException ex) {
                continue;
            }
            if (g == null) {
                continue;
            }
            Target t = g.snapshot().byId(hp.toString());
            if (e.op() == OverlayEntry.Op.REGISTER && t == null) {
                try {
                    g.register(new TargetSpec(hp, e.weight()));
                    log.info("cluster: target group {}: target {} registered through instance {}", g.name(), hp, e.by());
                } catch (IllegalArgumentException ex) {
                    log.debug("cluster: {}", ex.getMessage()); // a host name already registered under its addresses
                }
            } else if (e.op() == OverlayEntry.Op.DEREGISTER && t != null && t.state() != HealthState.DRAINING) {
                drainer.drain(g, t, "deregistered through instance " + e.by());
            }
        }
    }

    /** The file's targets of {@code group} changed by the overlay: what a reload keeps. */
    private List<TargetSpec> withOverlay(String group, List<TargetSpec> file) {
        if (cluster == null) {
            return file;
        }
        Map<String, TargetSpec> out = new LinkedHashMap<>();
        file.forEach(spec -> out.put(spec.address().toString(), spec));
        for (OverlayEntry e : cluster.overlay()) {
            if (!e.group().equals(group)) {
                continue;
            }
            if (e.op() == OverlayEntry.Op.DEREGISTER) {
                out.remove(e.target());
            } else if (!out.containsKey(e.target())) {
                try {
                    out.put(e.target(), new TargetSpec(HostPort.parse(e.target()), e.weight()));
                } catch (IllegalArgumentException ex) {
                    // malformed: skipped, as when applied
                }
            }
        }
        return new ArrayList<>(out.values());
    }

    /** This instance's view of its targets: "group/target" to state. */
    private Map<String, String> healthView() {
        Map<String, String> view = new LinkedHashMap<>();
        for (TargetGroup g : balancer.targetGroups().values()) {
            for (Target t : g.snapshot().all()) {
                view.put(g.name() + "/" + t.id(), t.state().label());
            }
        }
        return view;
    }

    private Map<String, TargetGroup> targetGroups() {
        return balancer.targetGroups();
    }

    /** Recent traffic per target and listener; read on the operations thread. */
    TrafficStats traffic() {
        return traffic;
    }

    StateLog stateLog() {
        return stateLog;
    }

    /** The metrics in the Prometheus text format. */
    byte[] scrape() {
        return metrics.scrape();
    }

    String metricsContentType() {
        return Metrics.CONTENT_TYPE;
    }

    boolean stopping() {
        return stopped;
    }

    /** Runs {@code task} on the operations thread and waits for it (at once when already there). */
    <T> T call(Callable<T> task) {
        if (Thread.currentThread() == opsThread) {
            try {
                return task.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        Future<T> f;
        try {
            f = ops.submit(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new AdminException(503, "stopping");
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminException(503, "interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Runs {@code task} on the operations thread without waiting. */
    void execute(Runnable task) {
        ops.execute(task);
    }

    private TargetGroup group(String name) {
        TargetGroup g = balancer.targetGroups().get(name);
        if (g == null) {
            throw new AdminException(404, "no target group '" + name + "' (groups: "
                                          + String.join(", ", balancer.targetGroups().keySet()) + ")");
        }
        return g;
    }

    private static HostPort address(String s) {
        if (s == null) {
            throw new AdminException(400, "target: missing; expected \"host:port\"");
        }
        try {
            return HostPort.parse(s);
        } catch (IllegalArgumentException e) {
            throw new AdminException(400, "target: '" + s + "' is not \"host:port\": " + e.getMessage());
        }
    }

    private ReloadResult reloadNow() {
        if (configFile == null) {
            return new ReloadResult("no configuration file to reload", List.of(), List.of());
        }
        FulcrumSettings next;
        try {
            next = FulcrumSettings.load(configFile);
        } catch (SettingsException e) {
            log.error("reload: {} is invalid, the running configuration stays: {}", configFile, e.getMessage());
            return new ReloadResult(e.getMessage(), List.of(), List.of());
        }
        fileDigest = digest(configFile);
        Reloader.Outcome o = reloader.apply(running, next);
        running = next;
        if (o.applied().isEmpty() && o.needRestart().isEmpty()) {
            log.info("reload: {} read, nothing changed", configFile);
        } else if (!o.applied().isEmpty()) {
            log.info("reload: {} applied: {}", configFile, String.join("; ", o.applied()));
        }
        if (!o.needRestart().isEmpty()) {
            log.warn("reload: changed but only applied at the next restart: {}", String.join("; ", o.needRestart()));
        }
        return new ReloadResult(null, o.applied(), o.needRestart());
    }

    private void watch(Duration interval) {
        ops.execute(() -> fileDigest = digest(configFile));
        ops.scheduleWithFixedDelay(() -> {
            byte[] d = digest(configFile);
            if (d != null && !Arrays.equals(d, fileDigest)) {
                log.info("reload: {} changed", configFile);
                fileDigest = d;
                reloadNow();
            }
        }, interval.toNanos(), interval.toNanos(), TimeUnit.NANOSECONDS);
        log.info("reload: watching {} every {} ms", configFile, interval.toMillis());
    }

    private static byte[] digest(Path file) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        } catch (IOException e) {
            return null; // being replaced; looked at again next time
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- stop ----

    /** Stops the admin API and pending drains, then the balancer within {@code grace}. */
    public void stop(Duration grace) {
        if (stopped) {
            return;
        }
        stopped = true;
        if (admin != null) {
            admin.stop();
        }
        ops.shutdownNow();
        balancer.stop(grace);
        shutdownSide();
    }

    private void shutdownSide() {
        ops.shutdownNow();
        if (cluster != null) {
            cluster.close();
        }
        if (accessLog != null) {
            accessLog.close();
        }
    }

    @Override
    public void close() {
        stop(running.shutdownGrace());
    }
}
