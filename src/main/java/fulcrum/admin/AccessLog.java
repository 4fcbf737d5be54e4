package fulcrum.admin;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import fulcrum.config.AccessLogSettings;
import fulcrum.proxy.ExchangeObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: hands each record, unformatted, to the logger {@value #LOGGER} as the argument
 * of a constant message (no placeholder, so Logback formats nothing on the event loop); its
 * {@link AccessLogLayout}, behind an {@link AsyncAppender}, writes the line on the appender's own
 * thread.
 */
final class AccessLog implements ExchangeObserver {
    static final String LOGGER = "fulcrum.access";
    static final String REQUEST = "request";
    static final String TUNNEL = "tunnel";
    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    private final Logger access = LoggerFactory.getLogger(LOGGER);
    private final AsyncAppender installed;

    private AccessLog(AsyncAppender installed) {
        this.installed = installed;
    }

    /**
     * Starts the access log. When the Logback configuration already gives {@value #LOGGER}
     * appenders, they are used as they are; otherwise an asynchronous appender to the file (or
     * standard output) of {@code s} is attached, and detached again by {@link #close()}.
     */
    static AccessLog start(AccessLogSettings s) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext lc)) {
            log.warn("access log: Logback is not the SLF4J backend; lines go wherever {} is configured", LOGGER);
            return new AccessLog(null);
        }
        ch.qos.logback.classic.Logger logger = lc.getLogger(LOGGER);
        if (logger.iteratorForAppenders().hasNext()) {
            log.info("access log: using the appenders the Logback configuration gives {}", LOGGER);
            return new AccessLog(null);
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
            out = f;
        } else {
            out = new ConsoleAppender<>();
        }
        out.setContext(lc);
        out.setName("fulcrum-access-out");
        out.setEncoder(encoder);
        out.start();
        AsyncAppender async = new AsyncAppender();
        async.setContext(lc);
        async.setName("fulcrum-access");
        async.setQueueSize(s.queueSize());
        // Access lines are INFO: the default threshold would drop them once the queue is 80% full.
        async.setDiscardingThreshold(0);
        // A full queue drops lines rather than stall an event loop.
        async.setNeverBlock(true);
        async.addAppender(out);
        async.start();
        logger.addAppender(async);
        logger.setAdditive(false);
        logger.setLevel(Level.INFO);
        log.info("access log: {} lines to {}", s.format().name().toLowerCase(java.util.Locale.ROOT),
                 s.file() == null ? "standard output" : s.file());
        return new AccessLog(async);
    }

    @Override
    public void exchangeEnded(ExchangeRecord r) {
        access.info(REQUEST, r);
    }

    @Override
    public void tunnelClosed(TunnelRecord r) {
        access.info(TUNNEL, r);
    }

    /** Detaches what {@link #start} attached, after writing what is queued. */
    void close() {
        if (installed == null) {
            return;
        }
        LoggerContext lc = (LoggerContext) LoggerFactory.getILoggerFactory();
        lc.getLogger(LOGGER).detachAppender(installed);
        installed.stop();
    }
}
