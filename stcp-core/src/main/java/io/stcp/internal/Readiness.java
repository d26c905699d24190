package io.stcp.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Whether one non-blocking socket may be read or written, as told by a {@link ReadinessSource}
 * that watches it edge-triggered. The connection's reader and writer wait here instead of in the
 * JDK's poller, so a socket is registered once for its lifetime rather than re-armed per wait.
 *
 * <p>Per direction there is a flag and a waiter. The source's poller thread sets the flag on every
 * edge, then unparks the waiter if there is one. The I/O thread clears the flag right before its
 * syscall, so an edge that arrives during or after that syscall is never lost; when the syscall
 * finds nothing, the thread publishes itself as the waiter, re-checks the flag and parks. Flag
 * and waiter are volatile and written in opposite orders on the two sides, so either the poller
 * sees the waiter or the waiter sees the flag.
 *
 * <p>A hang-up (the peer shut its output, or reset) is a state, not an edge: the poller reports it
 * once, but the reader may see it only after reading the data before it, when no further edge will
 * come. So it is sticky: once signalled, the socket counts as readable and writable for good, and
 * the syscalls report end of stream or the error.
 *
 * <p>{@link #close()} wakes both waiters for good and deregisters the socket from its source.
 */
public final class Readiness {
    private final Runnable deregister;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean readable = true;
    private volatile boolean writable = true;
    private volatile boolean hungUp;
    private volatile Thread readWaiter;
    private volatile Thread writeWaiter;

    /** @param deregister run once by {@link #close()}: forgets the socket at its source */
    public Readiness(Runnable deregister) {
        this.deregister = deregister;
    }

    /**
     * Called by the source's poller for every edge it sees.
     *
     * @param hangUp the peer shut its output or the socket failed (EPOLLRDHUP, EPOLLHUP, EPOLLERR)
     */
    public void signal(boolean in, boolean out, boolean hangUp) {
        if (hangUp) {
            hungUp = true;
            in = out = true;
        }
        if (in) {
            readable = true;
            Thread t = readWaiter;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
        if (out) {
            writable = true;
            Thread t = writeWaiter;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    boolean isReadable() {
        return readable || hungUp;
    }

    /** Called right before a read syscall. */
    void clearReadable() {
        readable = false;
    }

    /** Called right before a write syscall. */
    void clearWritable() {
        writable = false;
    }

    /**
     * Parks until readable, closed or interrupted, at most {@code timeoutNanos} (0 = no limit).
     *
     * @return false if the time ran out first
     */
    boolean awaitReadable(long timeoutNanos) {
        readWaiter = Thread.currentThread();
        try {
            return await(true, timeoutNanos);
        } finally {
            readWaiter = null;
        }
    }

    /** As {@link #awaitReadable}, for writing. */
    boolean awaitWritable(long timeoutNanos) {
        writeWaiter = Thread.currentThread();
        try {
            return await(false, timeoutNanos);
        } finally {
            writeWaiter = null;
        }
    }

    private boolean await(boolean read, long timeoutNanos) {
        if (timeoutNanos > Long.MAX_VALUE / 4) {
            timeoutNanos = 0; // centuries: no limit, and no overflow below
        }
        long deadline = System.nanoTime() + timeoutNanos;
        while (!(read ? readable : writable) && !hungUp && !closed.get() && !Thread.currentThread().isInterrupted()) {
            if (timeoutNanos == 0) {
                LockSupport.park(this);
            } else {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, left);
            }
        }
        return true;
    }

    /** Wakes both directions for good and deregisters; idempotent. */
    void close() {
        if (closed.compareAndSet(false, true)) {
            readable = true;
            writable = true;
            Thread r = readWaiter;
            Thread w = writeWaiter;
            if (r != null) {
                LockSupport.unpark(r);
            }
            if (w != null) {
                LockSupport.unpark(w);
            }
            deregister.run();
        }
    }
}
