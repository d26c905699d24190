package io.stcp.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Ends a suspended read loop at its read deadline: a {@link Sweeper} task, one per connection
 * (registered at the first suspension that has a deadline, gone when the connection closes), that
 * runs the suspension's resumption once the deadline has passed. The resumed reader then finds its
 * read timed out, as if it had waited in the read.
 */
final class SuspensionDeadline implements Sweeper.Task {
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final RealConnection connection;
    private volatile Runnable resumption;   // null while no suspension has a deadline
    private volatile long deadlineNanos;

    SuspensionDeadline(RealConnection connection) {
        this.connection = connection;
    }

    /** A quarter of the read timeout, at most a second: the precision of a timeout while suspended. */
    long tickNanos(Duration readTimeout) {
        long t = Nanos.timeout(readTimeout);
        return t == 0 ? MAX_TICK_NANOS : Math.min(MAX_TICK_NANOS, t / 4);
    }

    /** Runs {@code resumption} at {@code deadline} unless something else runs it first. */
    void watch(Runnable resumption, long deadline) {
        this.deadlineNanos = deadline;
        this.resumption = resumption;
    }

    @Override
    public boolean sweep(long now) {
        if (!connection.isOpen()) {
            return false;
        }
        Runnable r = resumption;
        if (r != null && Nanos.passed(deadlineNanos, now)) {
            resumption = null;
            r.run(); // at most once: the resumption itself makes sure
        }
        return true;
    }
}
