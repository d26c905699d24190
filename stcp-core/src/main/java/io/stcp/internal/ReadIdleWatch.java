package io.stcp.internal;

import java.util.concurrent.TimeUnit;

/**
 * Ends a suspended read loop that has waited out its read timeout: a {@link Sweeper} task, one per
 * connection while its suspensions have a read timeout, that counts how long the same suspension
 * has lasted, as {@link WriteIdleTask} counts write-idle time. So a suspension reads no clock and
 * writes nothing here: at one frame in flight each message is a suspension, and re-arming a deadline
 * per suspension cost two clock reads and two volatile writes to this object, out of cache at 1,000
 * connections (BENCHMARKS.md, "A fast machine").
 *
 * <p>A suspension is seen as the {@link Resumption}'s armed generation; the wait counts from the
 * moment a sweep first saw it (its own clock read, not the scan's, which may be older than the
 * suspension), against the read timeout in force when it began
 * ({@link ReadDeadlines#suspendedIdleNanos()}). So the loop is never resumed early, and at most
 * two ticks late: a quarter of the timeout, a second at most. The resumed loop's next wait then
 * throws the timeout ({@link Resumption#takeTimedOut()}), as if it had waited in the read — or the
 * deadline watched beside it ({@link SuspensionDeadline}) if that has passed too, whichever of the
 * two the sweep ran first. If the thread cannot start (out of memory), the suspension is ended
 * later as input would end it, and the wait counts again from the next suspension.
 *
 * <p>A later suspension whose read timeout needs a finer tick than this one's, or a far coarser
 * one (the timeout was changed), replaces it, and this one leaves the sweeper at its next sweep;
 * so does a suspension without a read timeout, and a watch whose sweep failed is not used again.
 */
final class ReadIdleWatch extends SuspensionWatch {
    private static final long MAX_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final Resumption resumption;
    private int seen;   // sweeper thread only: the suspension armed at the last sweep, 0 for none
    private long since; // sweeper thread only: the sweep that first saw it

    /** @param tickNanos how often the sweeper is to run it ({@link #tickNanos(long)}) */
    ReadIdleWatch(Resumption resumption, long tickNanos) {
        super(tickNanos);
        this.resumption = resumption;
    }

    /** An eighth of the read timeout {@code idleNanos}, at most half a second (at least 1 ms). */
    static long tickNanos(long idleNanos) {
        return Math.max(Sweeper.MIN_TICK_NANOS, Math.min(MAX_TICK_NANOS, idleNanos / 8));
    }

    /**
     * Whether it serves suspensions whose read timeout wants a tick of {@code wantedNanos}: not
     * coarser (the lateness stays within two of those ticks), nor four times finer than needed.
     * False once replaced, or once its sweep failed and the sweeper dropped it.
     */
    boolean fits(long wantedNanos) {
        return inUse() && tickNanos() <= wantedNanos && tickNanos() * 4 > wantedNanos;
    }

    @Override
    public boolean sweep(long now) {
        if (!inUse() || resumption.loopEnded()) {
            return false;
        }
        RealConnection connection = resumption.connection();
        int g = resumption.suspended();
        if (g == 0 || g != seen) {
            seen = g;
            since = System.nanoTime(); // not the scan's: it may be older than the suspension
            return true;
        }
        long idle = connection.input().deadlines().suspendedIdleNanos();
        if (idle != 0 && now - since >= idle) {
            seen = 0;
            resumption.timeOut(g); // nothing, if input or the close resumed it first
        }
        return true;
    }
}
