package fulcrum.admin;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import ch.qos.logback.core.util.FileSize;
import fulcrum.config.AccessLogSettings;
import fulcrum.proxy.ExchangeObserver;
import io.netty.util.internal.PlatformDependent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Queue;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The access log. The event loop only queues each record (a lock-free bounded queue: when it is
 * full the record is dropped and counted, the traffic never slowed); a writer thread of its own
 * wakes every {@value #BATCH_MILLIS} ms, hands the queued records to the logger {@value #LOGGER}
 * (its {@link AccessLogLayout} formats them there) and flushes once per batch. Batching keeps the
 * event loop from waking another thread, and the disk from taking a write, per request.
 */
final class AccessLog implements ExchangeObserver {
    static final String LOGGER = "fulcrum.access";
    static final String REQUEST = "request";
    static final String TUNNEL = "tunnel";
    static final long BATCH_MILLIS = 50;
    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    private final Logger access = LoggerFactory.getLogger(LOGGER);
    private final OutputStreamAppender<ILoggingEvent> installed;
    private final Queue<Object> queue;
    private final LongAdder dropped = new LongAdder();
    private final Thread writer;
    private volatile boolean running = true;
    private final boolean json;

    private AccessLog(OutputStreamAppender<ILoggingEvent> installed, int queueSize, AccessLogSettings.Format format) {
        this.installed = installed;
        this.json = format == AccessLogSettings.Format.JSON;
        this.queue = PlatformDependent.newFixedMpscQueue(queueSize);
        this.writer = new Thread(this::write, "fulcrum-access-log");
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * Starts the access log. When the Logback configuration already gives {@value #LOGGER}
     * appenders, they are used as they are; otherwise an appender to the file (or standard
     * output) of {@code s} is attached, and detached again by {@link #close()}.
     */
    static AccessLog start(AccessLogSettings s) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext lc)) {
            log.warn("access log: Logback is not the SLF4J backend; lines go wherever {} is configured", LOGGER);
            return new AccessLog(null, s.queueSize(), s.format());
        }
        ch.qos.logback.classic.Logger logger = lc.getLogger(LOGGER);
        if (logger.iteratorForAppenders().hasNext()) {
            log.info("access log: using the appenders the Logback configuration gives {}", LOGGER);
            return new AccessLog(null, s.queueSize(), s.format());
        }
        AccessLogLayout layout = new AccessLogLayout();
        layout.setContext(lc);
        layout.setFormat(s.format().name());
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(lc);
        encoder.setLayout(layout);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> out;
        if (s.file() != null) {
            FileAppender<ILoggingEvent> f = new FileAppender<>();
            f.setFile(s.file());
            f.setAppend(true);
            f.setBufferSize(new FileSize(256 * 1024));
            out = f;
        } else {
            out = new ConsoleAppender<>();
        }
        out.setContext(lc);
        out.setName("fulcrum-access-out");
        out.setEncoder(encoder);
        // The writer flushes once per batch instead.
        out.setImmediateFlush(false);
        out.start();
        logger.addAppender(out);
        logger.setAdditive(false);
        logger.setLevel(Level.INFO);
        log.info("access log: {} lines to {}", s.format().name().toLowerCase(java.util.Locale.ROOT),
                 s.file() == null ? "standard output" : s.file());
        return new AccessLog(out, s.queueSize(), s.format());
    }

    @Override
    public void exchangeEnded(ExchangeRecord r) {
        if (!queue.offer(r)) {
            dropped.increment();
        }
    }

    @Override
    public boolean recordsRequests() {
        return true;
    }

    @Override
    public void tunnelClosed(TunnelRecord r) {
        if (!queue.offer(r)) {
            dropped.increment();
        }
    }

    /** An ejection is a line of its own, already formatted (rare: no need to defer the work). */
    @Override
    public void ejected(String group, String target, java.time.Duration duration, String reason) {
        String time = java.time.Instant.now().toString();
        double seconds = duration.toMillis() / 1000.0;
        String line = json
                ? "{\"type\":\"ejection\",\"time\":\"" + time + "\",\"target_group\":\"" + group + "\",\"target\":\""
                  + target + "\",\"ejection_seconds\":" + seconds + ",\"reason\":\"" + reason + "\"}"
                : "ejection " + time + " " + group + " " + target + " " + seconds + " \"" + reason + "\"";
        if (!queue.offer(new EjectionLine(line))) {
            dropped.increment();
        }
    }

    /** A line written as it is. */
    private record EjectionLine(String line) {
        @Override
        public String toString() {
            return line;
        }
    }

    /** Records dropped because the queue was full. */
    long dropped() {
        return dropped.sum();
    }

    private void write() {
        long reported = 0;
        while (true) {
            boolean last = !running;
            Object r;
            int n = 0;
            while ((r = queue.poll()) != null) {
                if (r instanceof EjectionLine e) {
                    access.info(e.line());
                } else {
                    access.info(r instanceof TunnelRecord ? TUNNEL : REQUEST, r);
                }
                n++;
            }
            if (n > 0) {
                flush();
            }
            long d = dropped.sum();
            if (d > reported) {
                log.warn("access log: {} lines dropped (queue-size full)", d - reported);
                reported = d;
            }
            if (last) {
                return;
            }
            LockSupport.parkNanos(BATCH_MILLIS * 1_000_000L);
        }
    }

    private void flush() {
        if (installed == null) {
            return;
        }
        try {
            installed.getOutputStream().flush();
        } catch (IOException | RuntimeException e) {
            log.warn("access log: flush failed: {}", e.toString());
        }
    }

    /** Writes what is queued, then detaches what {@link #start} attached. */
    void close() {
        running = false;
        LockSupport.unpark(writer);
        try {
            writer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (installed == null) {
            return;
        }
        LoggerContext lc = (LoggerContext) LoggerFactory.getILoggerFactory();
        lc.getLogger(LOGGER).detachAppender(installed);
        installed.stop();
    }
}
