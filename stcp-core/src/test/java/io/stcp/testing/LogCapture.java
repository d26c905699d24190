package io.stcp.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

/** Captures stcp's log events (at DEBUG and above) while open. */
public final class LogCapture implements AutoCloseable {
    private final Logger logger;
    private final Level previous;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(String name) {
        logger = (Logger) LoggerFactory.getLogger(name);
        previous = logger.getLevel();
        appender.start();
        logger.addAppender(appender);
        logger.setLevel(Level.DEBUG);
    }

    public static LogCapture of(String loggerName) {
        return new LogCapture(loggerName);
    }

    /** Events whose message (the stable event name) is {@code event}. */
    public List<ILoggingEvent> events(String event) {
        synchronized (appender) {
            return appender.list.stream().filter(e -> e.getMessage().equals(event)).toList();
        }
    }

    public static Map<String, Object> fields(ILoggingEvent e) {
        List<KeyValuePair> kvs = e.getKeyValuePairs() == null ? List.of() : e.getKeyValuePairs();
        return kvs.stream().collect(Collectors.toMap(kv -> kv.key, kv -> kv.value, (a, b) -> b));
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(previous);
    }
}
