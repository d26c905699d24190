package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.event.Level;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The one {@code conn.exit} line per connection: DEBUG for ordinary ends, WARN for failures
 * ({@link CloseReason#isFailure()}). Failure lines are limited per server and reason to
 * {@value #PERMITS} per {@value #INTERVAL_SECONDS} s; the next line that gets through carries the
 * number held back ({@code suppressed}), so a crowd of failing peers costs a few lines, not one each.
 */
final class ExitLog {
    static final ExitLog SHARED = new ExitLog(System::nanoTime);
    static final int PERMITS = 10;
    static final int INTERVAL_SECONDS = 10;

    private final Map<CloseReason, RateLimiter> limits = new EnumMap<>(CloseReason.class);

    ExitLog(LongSupplier nanoClock) {
        for (CloseReason r : CloseReason.values()) {
            if (r.isFailure()) {
                limits.put(r, new RateLimiter(TimeUnit.SECONDS.toNanos(INTERVAL_SECONDS), PERMITS, nanoClock));
            }
        }
    }

    void exit(Connection connection, CloseReason reason, Throwable cause, int discarded) {
        LoggingEventBuilder b;
        if (reason.isFailure()) {
            if (!Log.CONN.isWarnEnabled()) {
                return;
            }
            long held = limits.get(reason).tryAcquire();
            if (held < 0) {
                return;
            }
            b = Log.conn(Level.WARN, "conn.exit", connection).addKeyValue("reason", reason);
            if (held > 0) {
                b.addKeyValue("suppressed", held);
            }
            if (cause != null) {
                b.setCause(cause);
            }
        } else {
            b = Log.conn(Level.DEBUG, "conn.exit", connection).addKeyValue("reason", reason);
            if (cause != null) {
                b.addKeyValue("error", cause.toString());
            }
        }
        if (discarded > 0) {
            b.addKeyValue("discarded", discarded);
        }
        b.log();
    }
}
