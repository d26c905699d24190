package io.stcp.cluster.internal;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Lets one event through per interval and counts the ones held back, so that a flood (malformed
 * messages, a bus that keeps failing) costs one log line per interval.
 *
 * <p>States: {@link #nextNanos} is when the next line may be logged; a caller that finds it
 * passed moves it forward by one interval with a compare-and-set (only one wins) and logs; every
 * other caller adds to {@link #held}, which the winner takes and reports.
 */
public final class LogLimiter {
    private final long intervalNanos;
    private final AtomicLong nextNanos;
    private final AtomicLong held = new AtomicLong();

    /** One line per {@code intervalNanos}. */
    public LogLimiter(long intervalNanos) {
        this.intervalNanos = intervalNanos;
        this.nextNanos = new AtomicLong(System.nanoTime());
    }

    /** -1 if this event should not be logged; else how many were held back since the last one logged. */
    public long tryAcquire() {
        long now = System.nanoTime();
        long next = nextNanos.get();
        if (now - next >= 0 && nextNanos.compareAndSet(next, now + intervalNanos)) {
            return held.getAndSet(0);
        }
        held.incrementAndGet();
        return -1;
    }

    /**
     * Adds {@code suppressed}, the lines held back since the last one ({@link #tryAcquire()}'s
     * count), when there were any: the rule and the key of every rate-limited stcp line, the
     * server's included.
     */
    public static LoggingEventBuilder suppressed(LoggingEventBuilder line, long held) {
        return held > 0 ? line.addKeyValue("suppressed", held) : line;
    }
}
