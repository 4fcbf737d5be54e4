package fulcrum.hardening;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Catches what Netty logs when an exception or a message reaches the tail of a pipeline: an
 * event no handler of the balancer took care of. Test only: attached to Netty's logger for the
 * duration of a test.
 */
final class TailExceptions implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger("io.netty.channel.DefaultChannelPipeline");
    private final ch.qos.logback.classic.Level level = logger.getLevel();
    private final List<String> seen = new CopyOnWriteArrayList<>();
    private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
            String m = e.getFormattedMessage();
            if (m != null && (m.contains("reached at the tail of the pipeline") || m.contains("Discarded inbound"))) {
                seen.add(m + (e.getThrowableProxy() == null ? "" : ": " + e.getThrowableProxy().getMessage()));
            }
        }
    };

    TailExceptions() {
        appender.setContext(logger.getLoggerContext());
        appender.start();
        // Unhandled inbound messages are logged at DEBUG.
        logger.setLevel(ch.qos.logback.classic.Level.DEBUG);
        logger.addAppender(appender);
    }

    List<String> seen() {
        return List.copyOf(seen);
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(level);
        appender.stop();
    }
}
