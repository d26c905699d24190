package io.stcp.internal;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server-wide budget for replies queued but not yet written ({@code ServerConfig.outboundBudget}):
 * the bytes of all of a server's send queues ({@link SendQueue}), queued or in the batch their
 * writers took and have not written yet, counted as each queue counts them — heap arrays, parts,
 * lent read buffers and the direct pool's chunks of large messages alike, and a conflating queue's
 * String keys ({@link BoundedQueue#keyBytes}) — beyond the first {@link #SLACK_BYTES} of each
 * queue, which are free. So the bytes queued or being written in all of them stay at most the
 * limit plus the number of queues times the slack.
 *
 * <p><b>Off the path of small messages.</b> A queue charges nothing while it holds at most the
 * slack, so loads that keep a few small replies in flight (64-byte echoes sixteen deep, four of
 * 16 KiB) never come here. A queue holding more is charged exactly its bytes above the slack
 * ({@link BoundedQueue#charged}), taken here before the put that raises it and given back by
 * whatever lowers it (a batch written, a drop, a smaller conflated value, a discard at the
 * queue's close, the writer's batch with it), under that queue's lock: one uncontended lock here
 * per such step.
 *
 * <p><b>States and transitions</b>, under {@link #lock}:
 * <ul>
 *   <li>{@code charged}, in [0, limit]: {@link #tryCharge} adds bytes only if the sum stays within
 *       the limit; {@link #release} takes back bytes a charge added, each byte once, by the queue
 *       that took it (its {@code charged} goes down by as much in the same step, under its lock).</li>
 *   <li>{@code changes}, which only grows: by one at each {@link #release} and {@link #wake}. A
 *       failed {@link #tryCharge} returns the count it saw.</li>
 *   <li>{@code waiters}: the puts inside {@link #awaitChange}, each from its entry to its return.</li>
 * </ul>
 *
 * <p><b>Waiting.</b> A put that fits its queue but not the budget waits as on a full queue
 * ({@link BoundedQueue#makeRoom}): it keeps the count of changes its failed {@link #tryCharge}
 * saw, under its queue's lock, releases that lock and waits here until the count moves
 * ({@link #awaitChange}), or its deadline comes. The count moves at every release (any queue freed
 * charged bytes) and at every event of the waiting put's own queue that a wait for room there would
 * also see (a batch taken, a smaller value, a close: {@link #wake}, by that queue under its lock);
 * any such event after the failed look moves the count past what the put kept, so no wake-up is
 * lost, and a close of the connection or the server's shutdown (which close its queue) ends the
 * wait. The order of locks is always a queue's, then this one's; nothing here calls a queue. A
 * fan-out waiting for room ({@link RoomWatch}) is not told of changes here, only of its own
 * queue's room: it offers again at least every {@link RoomWatch#RECHECK_NANOS} while it waits
 * for the budget.
 */
public final class OutboundBudget {
    /**
     * The bytes of each send queue that are not charged: 80 KiB, so that four replies of 16 KiB
     * with their headers, and one more arriving, stay below it.
     */
    public static final long SLACK_BYTES = 80 << 10;

    private final long limitBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile long charged; // written under lock; read without it by chargedBytes()
    private long peak;             // guarded by lock
    private long changes;          // guarded by lock
    private int waiters;           // guarded by lock

    public OutboundBudget(long limitBytes) {
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("limitBytes: " + limitBytes + " (expected: > 0)");
        }
        this.limitBytes = limitBytes;
    }

    public long limitBytes() {
        return limitBytes;
    }

    /** Bytes charged now. */
    public long chargedBytes() {
        return charged;
    }

    /** The most bytes charged at once since the budget was made. */
    public long peakBytes() {
        lock.lock();
        try {
            return peak;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #tryCharge}: the bytes were charged. */
    static final long CHARGED = -1;

    /**
     * Takes {@code bytes} (> 0) if they fit; the caller's queue lock is held.
     *
     * @return {@link #CHARGED}, or, when they do not fit, the count of changes seen then: what a
     *     wait for room ({@link #awaitChange}) waits to see move, so that a release after this look
     *     ends it
     */
    long tryCharge(long bytes) {
        lock.lock();
        try {
            if (charged + bytes > limitBytes) {
                return changes;
            }
            charged += bytes;
            peak = Math.max(peak, charged);
            return CHARGED;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back {@code bytes} (> 0) that a queue's {@link #tryCharge} took, and wakes the waiting puts. */
    void release(long bytes) {
        lock.lock();
        try {
            charged -= bytes;
            assert charged >= 0 : "released more than was charged";
            changeLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes the waiting puts: the queue of one of them changed (a batch taken, a close). */
    void wake() {
        lock.lock();
        try {
            changeLocked();
        } finally {
            lock.unlock();
        }
    }

    private void changeLocked() {
        changes++;
        if (waiters > 0) {
            changed.signalAll();
        }
    }

    /**
     * Waits until the count of changes is no longer {@code noted}, at most {@code nanos}.
     *
     * @throws InterruptedException if the thread is interrupted
     */
    void awaitChange(long noted, long nanos) throws InterruptedException {
        lock.lock();
        try {
            waiters++;
            try {
                long left = nanos;
                while (changes == noted && left > 0) {
                    left = changed.awaitNanos(left);
                }
            } finally {
                waiters--;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Test seam: the puts waiting here now. */
    public int waiters() {
        lock.lock();
        try {
            return waiters;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "OutboundBudget[" + charged + " of " + limitBytes + " bytes charged]";
    }
}
