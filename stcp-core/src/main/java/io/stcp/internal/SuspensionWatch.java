package io.stcp.internal;

/**
 * What the sweeper's watches of a connection's suspended read loop have in common
 * ({@link SuspensionDeadline}, {@link ReadIdleWatch}): a tick fixed when made, and a watch that
 * stops being used when a later suspension needs another ({@link #replace}) or the sweeper drops
 * it after a failed sweep. A watch out of use leaves the sweeper at its next sweep, and the reader
 * thread makes a new one at the next suspension that needs one.
 *
 * <p>A watch also leaves once its connection's read loop has ended ({@link Resumption#loopEnded()}),
 * not as soon as the connection is no longer open: a close of the transport resumes a suspended
 * loop through its callback, but a JDK channel closed behind the connection's back (not through
 * {@code channel()} nor its socket, whose close is the connection's, but by its number, which is
 * outside the contract) tells nobody (on epoll the kernel drops the registration without a word),
 * and its loop, suspended, is ended only by its read timeout or read deadline.
 */
abstract class SuspensionWatch implements Sweeper.Task {
    private final long tickNanos;
    private volatile boolean replaced;

    /** @param tickNanos how often the sweeper is to run it */
    SuspensionWatch(long tickNanos) {
        this.tickNanos = tickNanos;
    }

    /** How often the sweeper runs this one. */
    @Override
    public final long tickNanos() {
        return tickNanos;
    }

    /**
     * Another watch takes over, or none is needed: this one leaves the sweeper at its next sweep.
     * Only between suspensions: what it watches has ended already.
     */
    final void replace() {
        replaced = true;
    }

    /** Not replaced, and not dropped by the sweeper. */
    final boolean inUse() {
        return !replaced;
    }

    @Override
    public final void failed(Throwable t) {
        replaced = true; // dropped by the sweeper: the next suspension that needs one makes another
    }
}
