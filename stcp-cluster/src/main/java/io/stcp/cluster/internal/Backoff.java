package io.stcp.cluster.internal;

import java.time.Duration;

/**
 * The waits between attempts at something that keeps failing: the first wait, then twice the
 * previous one after each further failure, up to a longest wait; {@link #reset()} starts again
 * from the first. {@link io.stcp.cluster.RedisBus} spaces its reconnects with one, the presence
 * thread its retries after a failed round; both from {@code reconnectDelay} to
 * {@code reconnectMaxDelay}. Not thread-safe: each belongs to one thread.
 */
public final class Backoff {
    private final long firstNanos;
    private final long maxNanos;
    private long nextNanos;

    /** Waits of {@code first}, doubling up to {@code max} (at least {@code first}). */
    public Backoff(Duration first, Duration max) {
        this.firstNanos = first.toNanos();
        this.maxNanos = Math.max(firstNanos, max.toNanos());
        this.nextNanos = firstNanos;
    }

    /** The wait before the next attempt, in nanoseconds; the one after it will be twice as long, up to the longest. */
    public long nextNanos() {
        long wait = nextNanos;
        nextNanos = wait >= maxNanos / 2 ? maxNanos : wait * 2;
        return wait;
    }

    /** The next wait is the first again (the thing waited for has worked). */
    public void reset() {
        nextNanos = firstNanos;
    }
}
