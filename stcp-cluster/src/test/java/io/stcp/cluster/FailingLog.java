package io.stcp.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;

/**
 * Makes one log line fail, as out of memory while the line is made would: while open, the first
 * event named {@code event} on the logger throws an {@link Error} from its appender, on the thread
 * that logs it (logback lets an Error from an appender through to the caller of {@code log()});
 * the events after it go through.
 */
final class FailingLog implements AutoCloseable {
    private final Logger logger;
    private final Level previous;
    private final AtomicInteger thrown = new AtomicInteger();
    private final AppenderBase<ILoggingEvent> appender;

    private FailingLog(String loggerName, String event) {
        logger = (Logger) LoggerFactory.getLogger(loggerName);
        previous = logger.getLevel();
        appender = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent e) {
                if (e.getMessage().equals(event) && thrown.compareAndSet(0, 1)) {
                    // not an OutOfMemoryError, which a test JVM may take as fatal
                    throw new NoClassDefFoundError("test: the line " + event + " failed");
                }
            }
        };
        appender.start();
        logger.addAppender(appender);
        logger.setLevel(Level.DEBUG);
    }

    /** Fails the first line named {@code event} of the logger {@code loggerName}. */
    static FailingLog onFirst(String loggerName, String event) {
        return new FailingLog(loggerName, event);
    }

    /** Whether the line has failed. */
    boolean hasThrown() {
        return thrown.get() > 0;
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(previous);
        appender.stop();
    }
}
