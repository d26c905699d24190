package io.stcp.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

/**
 * Ends a suspended read loop at its deadline, the user's read deadline or the first frame's (the
 * read timeout has a watch of its own, {@link ReadIdleWatch}): a {@link Sweeper} task, one per
 * connection (registered at the first suspension that has a deadline, gone when its loop ends
 * or a suspension has none), that resumes the suspension once the deadline has passed. The
 * resumed reader then finds its read timed out, as if it had waited in the read.
 *
 * <p><b>Tick.</b> The sweeper runs it every quarter of the wait it was made for, at most every
 * second: the precision of a deadline while suspended. A later suspension whose wait is much
 * shorter (the user's read deadline is near) needs a shorter tick, which a task cannot change: the
 * reader thread then {@link #replace replaces} this one with a new one, and this one leaves the
 * sweeper at its next sweep. So does a wait far longer than the tick needs, so that one near
 * deadline does not keep the server's sweeper ticking fast for the connection's lifetime. A
 * connection whose waits stay alike (a deadline renewed per frame) keeps one.
 */
final class SuspensionDeadline extends SuspensionWatch {
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final VarHandle GENERATION = Fields.handle(MethodHandles.lookup(), "generation", int.class);

    private final Resumption resumption;
    private volatile int generation;  // of the suspension watched; 0 while none is
    private volatile long deadlineNanos;

    /** @param tickNanos how often the sweeper is to run it ({@link #tickNanos(long)}) */
    SuspensionDeadline(Resumption resumption, long tickNanos) {
        super(tickNanos);
        this.resumption = resumption;
    }

    /**
     * A quarter of {@code waitNanos}, the time from a suspension to its deadline, at most a second
     * (at least 1 ms, as the sweeper runs nothing more often): the precision of that deadline.
     */
    static long tickNanos(long waitNanos) {
        return Sweeper.tickFor(waitNanos, MAX_TICK_NANOS);
    }

    /** Whether it serves a wait that wants a tick of {@code wantedNanos} ({@link Sweeper#fits}); false once out of use. */
    boolean fits(long wantedNanos) {
        return inUse() && Sweeper.fits(tickNanos(), wantedNanos);
    }

    /** Resumes suspension {@code generation} at {@code deadline}, unless something else resumes it first. */
    void watch(int generation, long deadline) {
        this.deadlineNanos = deadline;
        this.generation = generation; // after the deadline: a sweep that sees it sees its deadline
    }

    @Override
    public boolean sweep(long now) {
        if (!inUse() || resumption.loopEnded()) {
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
