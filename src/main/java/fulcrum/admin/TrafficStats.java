package fulcrum.admin;

import fulcrum.balance.TargetGroup;
import fulcrum.proxy.ExchangeObserver;

import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Recent traffic per target and per listener, for the dashboard and the admin API: requests by
 * status class and a latency histogram, counted on the event loops with {@link LongAdder}s (a
 * map lookup and four increments per request, nothing allocated), and sampled every
 * {@link #SAMPLE_SECONDS} s on the operations thread into a short history: rates over the last
 * {@link #SLOTS} samples, and histogram snapshots from which p50/p99 over the last minute come.
 * Everything but the counters is read and written on the operations thread only.
 *
 * <p>Latency is counted in half-octave buckets of microseconds (bounds 1, 1.5, 2, 3, 4, 6 ... µs),
 * so a percentile is known to within a third of its value, interpolated inside its bucket.
 */
final class TrafficStats {
    static final int SAMPLE_SECONDS = 2;
    /** Five minutes of history. */
    static final int SLOTS = 150;
    /** Status classes by status / 100; "none": the client left before any response. */
    static final String[] CLASSES = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    /** Half-octaves up to 2^27 µs (134 s); the last bucket also takes anything longer. */
    static final int BUCKETS = 56;
    /** Histogram snapshots are kept every LATENCY_STEP samples, LATENCY_KEPT of them: 60 to 70 s back. */
    private static final int LATENCY_STEP = 5;
    private static final int LATENCY_KEPT = 7;

    /** group -> target -> counters; target "" for requests the balancer answered without a target. */
    private final Map<String, Map<String, Counters>> targets = new ConcurrentHashMap<>();
    private final Map<String, Counters> listeners = new ConcurrentHashMap<>();

    /** Samples taken; slot {@code (samples - 1) % SLOTS} is the latest. Operations thread only. */
    private long samples;
    private long lastSampleNanos = System.nanoTime();
    /** Length of each slot's interval, in nanoseconds. */
    private final long[] slotNanos = new long[SLOTS];

    /** Requests and latencies of one target or listener. */
    static final class Counters {
        private final LongAdder[] byClass = adders(CLASSES.length);
        private final LongAdder[] latency = adders(BUCKETS);
        // Operations thread only:
        private final long[] lastByClass = new long[CLASSES.length];
        private final long[][] perSlot = new long[SLOTS][CLASSES.length];
        private final long[][] histograms = new long[LATENCY_KEPT][BUCKETS];
        /** Whether the latest sample counted anything. */
        private boolean active;

        /** Refused requests come here too (the balancer's own answers reach exchangeEnded). */
        void record(int status, long nanos) {
            int cls = status / 100;
            byClass[cls >= 0 && cls < CLASSES.length ? cls : 0].increment();
            latency[bucket(nanos / 1000)].increment();
        }

        private static LongAdder[] adders(int n) {
            LongAdder[] a = new LongAdder[n];
            for (int i = 0; i < n; i++) {
                a[i] = new LongAdder();
            }
            return a;
        }
    }

    /** What the admin API shows of one set of counters. */
    record View(double[] perSecond, double p50Millis, double p99Millis, long latencyCount, double[][] series) {
        double requestsPerSecond() {
            double sum = 0;
            for (double r : perSecond) {
                sum += r;
            }
            return sum;
        }
    }

    /** The half-octave bucket of {@code micros}: 0 below 1 µs, then two per power of two. */
    static int bucket(long micros) {
        if (micros < 1) {
            return 0;
        }
        int e = 63 - Long.numberOfLeadingZeros(micros);
        int half = e == 0 ? 0 : (int) (micros >>> (e - 1)) & 1;
        return Math.min(1 + 2 * e + half, BUCKETS - 1);
    }

    /** The lower bound of bucket {@code i} in microseconds. */
    static double lowerMicros(int i) {
        if (i == 0) {
            return 0;
        }
        int e = (i - 1) / 2;
        return (1L << e) * ((i - 1) % 2 == 0 ? 1.0 : 1.5);
    }

    /** The observer of one listener: counts every exchange on its listener and its target. */
    ExchangeObserver observer(String listener) {
        Counters own = listeners.computeIfAbsent(listener, k -> new Counters());
        return new ExchangeObserver() {
            @Override
            public void exchangeEnded(ExchangeRecord r) {
                long nanos = r.endNanos() - r.startNanos();
                own.record(r.status(), nanos);
                if (r.group() != null) {
                    counters(r.group(), r.target() == null ? "" : r.target()).record(r.status(), nanos);
                }
            }

            @Override
            public void tunnelClosed(TunnelRecord r) {
            }

            @Override
            public boolean keepsRecords() {
                return false;
            }
        };
    }

    private Counters counters(String group, String target) {
        Map<String, Counters> byTarget = targets.get(group);
        if (byTarget == null) {
            byTarget = targets.computeIfAbsent(group, k -> new ConcurrentHashMap<>());
        }
        Counters c = byTarget.get(target);
        if (c == null) {
            c = byTarget.computeIfAbsent(target, k -> new Counters());
        }
        return c;
    }

    /**
     * Takes one sample of every counter (operations thread), then forgets the counters of targets
     * and groups that are gone and were idle during the sample.
     */
    void sample(Map<String, TargetGroup> groups) {
        long now = System.nanoTime();
        int slot = (int) (samples % SLOTS);
        slotNanos[slot] = Math.max(1, now - lastSampleNanos);
        lastSampleNanos = now;
        boolean keepHistogram = samples % LATENCY_STEP == 0;
        int histogramSlot = (int) (samples / LATENCY_STEP % LATENCY_KEPT);
        for (Counters c : listeners.values()) {
            sample(c, slot, keepHistogram, histogramSlot);
        }
        for (Map<String, Counters> byTarget : targets.values()) {
            for (Counters c : byTarget.values()) {
                sample(c, slot, keepHistogram, histogramSlot);
            }
        }
        samples++;
        for (Iterator<Map.Entry<String, Map<String, Counters>>> gi = targets.entrySet().iterator(); gi.hasNext(); ) {
            Map.Entry<String, Map<String, Counters>> g = gi.next();
            TargetGroup group = groups.get(g.getKey());
            g.getValue().entrySet().removeIf(t -> !t.getValue().active
                    && (group == null || !t.getKey().isEmpty() && group.snapshot().byId(t.getKey()) == null));
            if (group == null && g.getValue().isEmpty()) {
                gi.remove();
            }
        }
    }

    private static void sample(Counters c, int slot, boolean keepHistogram, int histogramSlot) {
        boolean active = false;
        for (int i = 0; i < CLASSES.length; i++) {
            long total = c.byClass[i].sum();
            c.perSlot[slot][i] = total - c.lastByClass[i];
            active |= total != c.lastByClass[i];
            c.lastByClass[i] = total;
        }
        c.active = active;
        if (keepHistogram) {
            long[] h = c.histograms[histogramSlot];
            for (int i = 0; i < BUCKETS; i++) {
                h[i] = c.latency[i].sum();
            }
        }
    }

    /** The traffic of {@code target} in {@code group}; null when it has had none (operations thread). */
    View target(String group, String target, boolean withSeries) {
        Map<String, Counters> byTarget = targets.get(group);
        Counters c = byTarget == null ? null : byTarget.get(target);
        return c == null ? null : view(c, withSeries);
    }

    /** Requests of {@code group} that no target took (the balancer answered them); null when none. */
    View unassigned(String group, boolean withSeries) {
        return target(group, "", withSeries);
    }

    View listener(String name, boolean withSeries) {
        Counters c = listeners.get(name);
        return c == null ? null : view(c, withSeries);
    }

    /** Samples kept so far, oldest first, at most {@link #SLOTS}. */
    int history() {
        return (int) Math.min(samples, SLOTS);
    }

    private View view(Counters c, boolean withSeries) {
        double[] perSecond = new double[CLASSES.length];
        if (samples > 0) {
            int latest = (int) ((samples - 1) % SLOTS);
            perSecond = rates(c.perSlot[latest], slotNanos[latest]);
        }
        double[][] series = null;
        if (withSeries) {
            int n = history();
            series = new double[n][];
            for (int k = 0; k < n; k++) {
                int slot = (int) ((samples - n + k) % SLOTS);
                series[k] = rates(c.perSlot[slot], slotNanos[slot]);
            }
        }
        long[] window = new long[BUCKETS];
        long count = 0;
        long[] base = oldestHistogram(c);
        for (int i = 0; i < BUCKETS; i++) {
            window[i] = c.latency[i].sum() - base[i];
            count += window[i];
        }
        return new View(perSecond, percentileMillis(window, count, 0.50), percentileMillis(window, count, 0.99),
                        count, series);
    }

    /** The histogram snapshot from 60 to 70 s ago, or the oldest kept (zeros before the first). */
    private long[] oldestHistogram(Counters c) {
        long taken = samples == 0 ? 0 : (samples - 1) / LATENCY_STEP + 1;
        if (taken < LATENCY_KEPT) {
            return new long[BUCKETS]; // less than a minute of history: everything since the start
        }
        return c.histograms[(int) (taken % LATENCY_KEPT)];
    }

    private static double[] rates(long[] counts, long nanos) {
        double seconds = nanos / (double) TimeUnit.SECONDS.toNanos(1);
        double[] r = new double[counts.length];
        for (int i = 0; i < counts.length; i++) {
            r[i] = counts[i] / seconds;
        }
        return r;
    }

    /** The {@code q} quantile of {@code h} in milliseconds, interpolated in its bucket; NaN when empty. */
    static double percentileMillis(long[] h, long count, double q) {
        if (count == 0) {
            return Double.NaN;
        }
        long rank = Math.max(1, (long) Math.ceil(q * count));
        long seen = 0;
        for (int i = 0; i < h.length; i++) {
            if (h[i] > 0 && seen + h[i] >= rank) {
                double lo = lowerMicros(i);
                double hi = i + 1 < BUCKETS ? lowerMicros(i + 1) : lo * 1.5;
                double micros = lo + (hi - lo) * (rank - seen) / h[i];
                return micros / 1000.0;
            }
            seen += h[i];
        }
        return Double.NaN;
    }
}
