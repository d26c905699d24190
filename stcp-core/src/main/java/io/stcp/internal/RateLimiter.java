package io.stcp.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Lets an event through at most once per interval and counts the ones it held back, so that a
 * flood (rejected connections, accept errors) costs one log line per interval, not one per event.
 */
final class RateLimiter {
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final AtomicLong nextNanos;
    private final AtomicLong suppressed = new AtomicLong();

    RateLimiter(long intervalNanos) {
        this(intervalNanos, System::nanoTime);
    }

    /** A limiter reading the time from {@code nanoClock} ({@link System#nanoTime()} but in tests). */
    RateLimiter(long intervalNanos, LongSupplier nanoClock) {
        this.intervalNanos = intervalNanos;
        this.nanoClock = nanoClock;
        this.nextNanos = new AtomicLong(nanoClock.getAsLong());
    }

    /**
     * Records one event.
     *
     * @return -1 if it should not be logged, else how many events were held back since the last
     *     one that was (0 or more)
     */
    long tryAcquire() {
        long now = nanoClock.getAsLong();
        long next = nextNanos.get();
        if (now - next >= 0 && nextNanos.compareAndSet(next, now + intervalNanos)) {
            return suppressed.getAndSet(0);
        }
        suppressed.incrementAndGet();
        return -1;
    }
}
