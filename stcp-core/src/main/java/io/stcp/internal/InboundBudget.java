package io.stcp.internal;

import io.stcp.FrameTimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server-wide budget for input received but not yet handed to a reader: the arrays of large
 * frames ({@code readBytes}) that are still filling. A connection that needs more than is left
 * stops reading until other connections finish or fail their frames, so the kernel's window closes
 * on its peer; it waits at most until its read deadline (the frame timeout, normally).
 *
 * <p>Not on the path of small messages: only arrays that grow past one read buffer reserve here.
 */
final class InboundBudget {
    private final long limitBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private long usedBytes; // guarded by lock

    InboundBudget(long limitBytes) {
        this.limitBytes = limitBytes;
    }

    long limitBytes() {
        return limitBytes;
    }

    /**
     * Reserves {@code bytes}, waiting while the budget is spent, until {@code deadlineNanos} (0 = none).
     *
     * @throws FrameTimeoutException if the deadline passes first
     * @throws java.io.InterruptedIOException if interrupted while waiting
     */
    void reserve(long bytes, long deadlineNanos) throws java.io.IOException {
        lock.lock();
        try {
            while (usedBytes + bytes > limitBytes) {
                if (deadlineNanos == 0) {
                    freed.await();
                } else {
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0) {
                        throw new FrameTimeoutException("frame not completed: the server's inbound budget of "
                                + limitBytes + " bytes stayed spent until the read deadline");
                    }
                    freed.awaitNanos(left);
                }
            }
            usedBytes += bytes;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the inbound budget");
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

    long usedBytes() {
        lock.lock();
        try {
            return usedBytes;
        } finally {
            lock.unlock();
        }
    }
}
