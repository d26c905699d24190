package io.stcp.internal;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * Lets at most {@code permits} events through per interval and counts the ones it held back, so
 * that a flood (rejected connections, accept errors, failing peers) costs a few log lines per
 * interval, not one per event. Used on failure paths only.
 */
final class RateLimiter {
    private final long intervalNanos;
    private final int permits;
    private final LongSupplier nanoClock;
    private final ReentrantLock lock = new ReentrantLock();
    private long windowEndNanos;  // guarded by lock
    private int used;             // guarded by lock
    private long suppressed;      // guarded by lock

    RateLimiter(long intervalNanos) {
        this(intervalNanos, 1, System::nanoTime);
    }

    /** A limiter reading the time from {@code nanoClock} ({@link System#nanoTime()} but in tests). */
    RateLimiter(long intervalNanos, int permits, LongSupplier nanoClock) {
        this.intervalNanos = intervalNanos;
        this.permits = permits;
        this.nanoClock = nanoClock;
        this.windowEndNanos = nanoClock.getAsLong();
    }

    /**
     * Records one event.
     *
     * @return -1 if it should not be logged, else how many events were held back since the last
     *     one that was (0 or more)
     */
    long tryAcquire() {
        long now = nanoClock.getAsLong();
        lock.lock();
        try {
            if (now - windowEndNanos >= 0) {
                windowEndNanos = now + intervalNanos;
                used = 0;
            }
            if (used < permits) {
                used++;
                long held = suppressed;
                suppressed = 0;
                return held;
            }
            suppressed++;
            return -1;
        } finally {
            lock.unlock();
        }
    }
}
