package io.stcp.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Ends a suspended read loop at its read deadline: a {@link Sweeper} task, one per connection
 * (registered at the first suspension that has a deadline, gone when the connection closes), that
 * resumes the suspension once the deadline has passed. The resumed reader then finds its read
 * timed out, as if it had waited in the read.
 */
final class SuspensionDeadline implements Sweeper.Task {
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final VarHandle GENERATION = Fields.handle(MethodHandles.lookup(), "generation", int.class);

    private final RealConnection connection;
    private final Resumption resumption;
    private volatile int generation;  // of the suspension watched; 0 while none is
    private volatile long deadlineNanos;

    SuspensionDeadline(RealConnection connection, Resumption resumption) {
        this.connection = connection;
        this.resumption = resumption;
    }

    /** A quarter of the read timeout, at most a second: the precision of a timeout while suspended. */
    long tickNanos(Duration readTimeout) {
        long t = Nanos.timeout(readTimeout);
        return t == 0 ? MAX_TICK_NANOS : Math.min(MAX_TICK_NANOS, t / 4);
    }

    /** Resumes suspension {@code generation} at {@code deadline}, unless something else resumes it first. */
    void watch(int generation, long deadline) {
        this.deadlineNanos = deadline;
        this.generation = generation; // after the deadline: a sweep that sees it sees its deadline
    }

    @Override
    public boolean sweep(long now) {
        if (!connection.isOpen()) {
            return false;
        }
        int g = generation;
        // Only the suspension seen is unwatched: the reader may be watching its next one by now.
        if (g != 0 && Nanos.passed(deadlineNanos, now) && GENERATION.compareAndSet(this, g, 0)) {
            resumption.resume(g); // nothing, if that suspension has ended already
        }
        return true;
    }
}
