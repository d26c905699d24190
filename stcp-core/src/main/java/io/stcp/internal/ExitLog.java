package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.event.Level;
import org.slf4j.spi.LoggingEventBuilder;
import org.slf4j.spi.NOPLoggingEventBuilder;

/**
 * The one {@code conn.exit} line per connection: DEBUG for ordinary ends, WARN for failures
 * ({@link CloseReason#isFailure()}). Failure lines, and the DEBUG lines of connections refused
 * before they started ({@link CloseReason#REJECTED}: a PROXY header refused, a proxied client over
 * a limit, which peers make as fast as they connect), are limited per server and reason to
 * {@value #PERMITS} per {@value #INTERVAL_SECONDS} s; the next line that gets through carries the
 * number held back ({@code suppressed}), so a crowd of failing or refused peers costs a few lines,
 * not one each.
 *
 * <p>The other WARN lines about a connection ({@code conn.hook.failed}, {@code conn.sender.failed},
 * {@code conn.idle.action.failed}, ...) go through {@link #warn} and are limited the same way, per
 * server and event name: a bug that fails on every connection, or a crowd of peers that trigger
 * it, also costs a few lines per interval.
 */
final class ExitLog {
    static final ExitLog SHARED = new ExitLog(System::nanoTime);
    static final int PERMITS = 10;
    static final int INTERVAL_SECONDS = 10;

    private final Map<CloseReason, RateLimiter> limits = new EnumMap<>(CloseReason.class);
    private final Map<String, RateLimiter> warnLimits = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;

    ExitLog(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
        for (CloseReason r : CloseReason.values()) {
            if (r.isFailure() || r == CloseReason.REJECTED) {
                limits.put(r, new RateLimiter(TimeUnit.SECONDS.toNanos(INTERVAL_SECONDS), PERMITS, nanoClock));
            }
        }
    }

    /**
     * Writes the {@code conn.exit} line. Never throws: even out of memory, the exit hooks and the
     * slot's release that follow must run.
     */
    void exit(Connection connection, CloseReason reason, Throwable cause, int discarded) {
        try {
            writeExit(connection, reason, cause, discarded);
        } catch (Throwable t) {
            // no line then; the connection's end goes on
        }
    }

    private void writeExit(Connection connection, CloseReason reason, Throwable cause, int discarded) {
        Level level = reason.isFailure() ? Level.WARN : Level.DEBUG;
        if (!Log.CONN.isEnabledForLevel(level)) {
            return; // before the limit: a line not written takes none of its permits
        }
        RateLimiter limit = limits.get(reason);
        long held = limit == null ? 0 : limit.tryAcquire();
        if (held < 0) {
            return;
        }
        LoggingEventBuilder b = Log.suppressed(Log.conn(level, "conn.exit", connection).addKeyValue("reason", reason), held);
        if (cause != null) {
            if (level == Level.WARN) {
                b.setCause(cause);
            } else {
                b.addKeyValue("error", cause.toString());
            }
        }
        if (discarded > 0) {
            b.addKeyValue("discarded", discarded);
        }
        b.log();
    }

    /**
     * A WARN line {@code event} about {@code connection} (its id and MetaInfo fields added), or a
     * builder that logs nothing when this event has used its {@value #PERMITS} lines of the
     * interval; the first line after that carries {@code suppressed}. The caller adds its fields
     * and calls {@code log()}.
     */
    LoggingEventBuilder warn(String event, Connection connection) {
        if (!Log.CONN.isWarnEnabled()) {
            return NOPLoggingEventBuilder.singleton();
        }
        long held = warnLimits.computeIfAbsent(event,
                e -> new RateLimiter(TimeUnit.SECONDS.toNanos(INTERVAL_SECONDS), PERMITS, nanoClock)).tryAcquire();
        if (held < 0) {
            return NOPLoggingEventBuilder.singleton();
        }
        return Log.suppressed(Log.conn(Level.WARN, event, connection), held);
    }
}
