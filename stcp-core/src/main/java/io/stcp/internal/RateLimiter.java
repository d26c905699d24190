package io.stcp.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets an event through at most once per interval and counts the ones it held back, so that a
 * flood (rejected connections, accept errors) costs one log line per interval, not one per event.
 */
final class RateLimiter {
    private final long intervalNanos;
    private final AtomicLong nextNanos;
    private final AtomicLong suppressed = new AtomicLong();

    RateLimiter(long intervalNanos) {
        this.intervalNanos = intervalNanos;
        this.nextNanos = new AtomicLong(System.nanoTime());
    }

    /**
     * Records one event.
     *
     * @return -1 if it should not be logged, else how many events were held back since the last
     *     one that was (0 or more)
     */
    long tryAcquire() {
        long now = System.nanoTime();
        long next = nextNanos.get();
        if (now - next >= 0 && nextNanos.compareAndSet(next, now + intervalNanos)) {
            return suppressed.getAndSet(0);
        }
        suppressed.incrementAndGet();
        return -1;
    }
}
