package io.stcp.internal;

import java.nio.channels.ClosedChannelException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The server-wide budget for input received but not yet handed to a reader: the arrays of large
 * values ({@code readBytes}, {@code readLine}, {@code DelimiterReader}) that are still filling. A
 * connection that needs more than is left stops reading until other connections finish or fail
 * their values, so the kernel's window closes on its peer; it waits at most until its read deadline
 * (the frame timeout, normally), or, with no deadline, until its connection closes
 * ({@link #wakeWaiters}: a close does not interrupt the reader).
 *
 * <p>Not on the path of small messages: only arrays that grow past one read buffer reserve here.
 * A connection that waits for room keeps what it reserved before, so waits hold memory; each wait
 * ends at its deadline or close, which bounds that. A growing array takes fourfold only while that
 * leaves the budget at most half spent, and grows slowly past that (see {@link ArrayGrowth}), so
 * that a peer must send about as much as it makes the server hold beyond the first half; the
 * half is looked at and the bytes reserved in one step under the lock ({@link #reserveWithinHalf}),
 * so that growths at the same moment see each other's reservations. An array that does not
 * complete its value reserves with a {@code keep} of the budget's last fifth, which stays for
 * arrays that do, so that values creeping toward their ends cannot all wait on each other.
 */
final class InboundBudget {
    private final long limitBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private volatile long usedBytes; // written under lock; read without it by usedBytes()
    private int waiters;    // reservations waiting for room; guarded by lock

    InboundBudget(long limitBytes) {
        this.limitBytes = limitBytes;
    }

    long limitBytes() {
        return limitBytes;
    }

    /**
     * Reserves {@code bytes}, waiting while the budget is spent, until {@code deadlineNanos} (0 = none)
     * or until {@code open} turns false (looked at under the lock, before each wait).
     *
     * @param keep bytes of the budget this reservation must leave free (it waits until it can)
     * @param open whether the connection reserving is still open; its close must then call {@link #wakeWaiters}
     * @return false, with nothing reserved, if the deadline passed first (the caller knows which
     *     of its deadlines that was)
     * @throws ClosedChannelException if the connection closes first
     * @throws java.io.InterruptedIOException if interrupted while waiting
     */
    boolean reserve(long bytes, long keep, long deadlineNanos, BooleanSupplier open) throws java.io.IOException {
        lock.lock();
        try {
            while (usedBytes + bytes > limitBytes - keep) {
                if (!open.getAsBoolean()) {
                    throw new ClosedChannelException(); // closed while its frame waited for room
                }
                waiters++;
                try {
                    if (deadlineNanos == 0) {
                        freed.await();
                    } else {
                        long left = deadlineNanos - System.nanoTime();
                        if (left <= 0) {
                            return false;
                        }
                        freed.awaitNanos(left);
                    }
                } finally {
                    waiters--;
                }
            }
            usedBytes += bytes;
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the inbound budget");
        } finally {
            lock.unlock();
        }
    }

    /** A connection has closed: its reservation, if it waits, looks again (after the close, under the lock). */
    void wakeWaiters() {
        lock.lock();
        try {
            if (waiters > 0) {
                freed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    void release(long bytes) {
        if (bytes == 0) {
            return;
        }
        lock.lock();
        try {
            usedBytes -= bytes;
            freed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Reserves {@code bytes} if the budget is then at most half spent, else nothing; never waits.
     * The check and the reservation are one step under the lock: two growths at the same moment
     * cannot both see room below half that only one of them fits in.
     *
     * @return whether the bytes were reserved
     */
    boolean reserveWithinHalf(long bytes) {
        lock.lock();
        try {
            if (usedBytes + bytes > limitBytes / 2) {
                return false;
            }
            usedBytes += bytes;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Reservations waiting for room now; for tests. */
    int waiters() {
        lock.lock();
        try {
            return waiters;
        } finally {
            lock.unlock();
        }
    }

    /** The bytes reserved now. */
    long usedBytes() {
        return usedBytes;
    }
}
