package io.stcp.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
 * <p>Ends of a direction are states, not edges: the poller reports them once, but the thread may
 * look only later, when no further edge will come. So they are sticky:
 * <ul>
 *   <li>the peer shut its output (EPOLLRDHUP): the <em>read</em> side stays readable for good, and
 *       reads report the data before the end, then end of stream. The write side is untouched: a
 *       half-closed peer may still read, or may never read, and a write to it must wait for room
 *       like any other (taking this end for a hang-up made writes spin);</li>
 *   <li>the socket hung up or failed (EPOLLHUP, EPOLLERR): both sides stay ready for good, and the
 *       syscalls report the error.</li>
 * </ul>
 *
 * <p>Every wait takes a deadline and returns false once it has passed, whatever the flags say.
 * {@link #close()} wakes both waiters for good and deregisters the socket from its source.
 * {@link #fail} does the same when the source can no longer watch the socket (its poller failed
 * signalling it, or died, or failed to report it again: {@link #reportAgain()}), and leaves the
 * cause for the waiters to throw ({@link #failure()}): a socket whose edges may be lost must not
 * be waited on for ever.
 *
 * <p>Instead of a waiting reader there may be a read callback ({@link #onReadable}), run once by
 * whichever comes first: the next read edge, an end, or the close. The registrant publishes the
 * callback and then re-checks the flags; the poller sets the flags and then takes the callback;
 * both are volatile, so one of them sees the other, and a compare-and-set on the callback makes
 * sure exactly one runs it (or the registrant takes it back and reads at once).
 */
public final class Readiness {
    /** What {@link #signal} did: it unparked a thread waiting to read. */
    public static final int WOKE_READER = 1;
    /** What {@link #signal} did: it ran the read callback (a suspended read loop goes on). */
    public static final int RAN_CALLBACK = 2;

    private static final VarHandle READ_CALLBACK = Fields.handle(MethodHandles.lookup(), "readCallback", Runnable.class);
    private static final VarHandle END = Fields.handle(MethodHandles.lookup(), "end", Object.class);
    /** {@link #end} once the owner closed it ({@link #close()}). */
    private static final Object CLOSED = new Object();

    private final Owner owner;
    private final long token;
    /** Null while open; then, set once by compare-and-set, {@link #CLOSED} or the cause given to {@link #fail}. */
    private volatile Object end;
    private volatile boolean readable = true;
    private volatile boolean writable = true;
    private volatile boolean inputEnded;
    private volatile boolean hungUp;
    private volatile Thread readWaiter;
    private volatile Thread writeWaiter;
    private volatile Runnable readCallback;

    /** Where a socket's Readiness is registered: told once, by {@link #close()}, to forget the socket. */
    @FunctionalInterface
    public interface Owner {
        void deregister(Readiness readiness);

        /**
         * Reports the socket's state again, in turn with the sockets found ready meanwhile: an
         * edge for what the socket has now (input, room), as for a new event. Made only by the
         * reader thread, while no one closes the socket's descriptor.
         *
         * @return false if this owner cannot (then nothing changes)
         * @throws IOException if it failed to ask (its {@code epoll_ctl} failed): the Readiness then
         *     fails ({@link Readiness#fail}), as no report, nor any edge, may come
         */
        default boolean reportAgain(Readiness readiness) throws IOException {
            return false;
        }

        /**
         * Closes the descriptor this owner works on for the socket, if it is one of its own (a
         * duplicate of the channel's: see {@link ReadinessSource#registerShared}). Called once, by
         * {@link Readiness#closeDescriptor()}.
         */
        default void closeDescriptor(Readiness readiness) {}
    }

    /**
     * @param owner told once by {@link #close()}
     * @param token the owner's name for this registration, e.g. what its poller's events carry
     */
    public Readiness(Owner owner, long token) {
        this.owner = owner;
        this.token = token;
    }

    /** The owner's name for this registration. */
    public long token() {
        return token;
    }

    /**
     * Called by the source's poller for every edge it sees.
     *
     * @param in the socket has input (EPOLLIN)
     * @param out the socket has room for output (EPOLLOUT)
     * @param inputEnd the peer shut its output (EPOLLRDHUP)
     * @param hangUp the socket hung up or failed (EPOLLHUP, EPOLLERR)
     * @return what it did for the read side: {@link #WOKE_READER}, {@link #RAN_CALLBACK}, both or 0
     */
    public int signal(boolean in, boolean out, boolean inputEnd, boolean hangUp) {
        int did = 0;
        if (inputEnd) {
            inputEnded = true;
            in = true;
        }
        if (hangUp) {
            hungUp = true;
            in = out = true;
        }
        if (in) {
            readable = true;
            Thread t = readWaiter;
            if (t != null) {
                LockSupport.unpark(t);
                did = WOKE_READER;
            }
            if (runReadCallback()) {
                did |= RAN_CALLBACK;
            }
        }
        if (out) {
            writable = true;
            Thread t = writeWaiter;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
        return did;
    }

    /**
     * Whether a read may find something: input, an end, or the close. A close stays readable for
     * good, as a hang-up does: the reader clears {@link #readable} before each read call, and one
     * that fails on the closed socket and is read again must call again, to be told it is closed,
     * rather than find it empty and wait, which a close does not make (it would spin until its
     * deadline, for ever without one).
     */
    boolean isReadable() {
        return readable || inputEnded || hungUp || end != null;
    }

    /**
     * Runs {@code action} once at the next read edge, end or close, instead of a waiting reader.
     *
     * @return false if the socket may be readable now: {@code action} will not run, read instead
     */
    boolean onReadable(Runnable action) {
        if (isReadable() || end != null) {
            return false;
        }
        readCallback = action;
        if (isReadable() || end != null) {
            // An edge may have come between the check and the set: take the callback back, unless
            // the poller already took it to run it.
            return !READ_CALLBACK.compareAndSet(this, action, null);
        }
        return true;
    }

    private boolean runReadCallback() {
        Runnable action = (Runnable) READ_CALLBACK.getAndSet(this, (Runnable) null);
        if (action == null) {
            return false;
        }
        action.run();
        return true;
    }

    /**
     * Asks the owner to report the socket's state again ({@link Owner#reportAgain}), the read flag
     * cleared first: a reader that then waits ({@link #awaitReadable}) goes on once the report comes
     * — in turn with the sockets found ready meanwhile, so the threads woken before it run first —
     * or, if the socket has no input, when input comes, as a read would have waited for it. Reader
     * thread only, while no one closes the socket's descriptor.
     *
     * <p>If the owner fails to ask (it throws), the socket's registration may be lost with it, and
     * no report nor edge come: left cleared, the flag would make a socket with input look empty,
     * and the reader would wait for an edge that input already there does not make. So it fails
     * this Readiness with the cause ({@link #fail}), which sets the flags, and the wait that
     * follows ends at once with the failure ({@link #failure()}): the connection ends as one whose
     * poller failed, not as one whose peer broke the protocol.
     *
     * @return true if the reader is to wait ({@link #awaitReadable}): for the report, or the
     *     failure; false if the owner cannot (then the flag is as it was)
     */
    boolean reportAgain() {
        boolean was = readable;
        readable = false;
        boolean reported;
        try {
            reported = owner.reportAgain(this);
        } catch (Throwable t) {
            fail(t);
            return true;
        }
        if (!reported && was) {
            readable = true;
        }
        return reported;
    }

    /**
     * Wakes the reader as a read edge does, from a thread that wants the socket read now (a graceful
     * close as it begins: {@link ReadinessTransport#stopAwaitingInput()}); a read callback is left to
     * the edges (a suspended loop's input, if any, made one). At worst a read finds nothing and
     * waits again.
     */
    void wakeReader() {
        readable = true;
        Thread t = readWaiter;
        if (t != null) {
            LockSupport.unpark(t);
        }
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
     * Parks until readable, closed or interrupted, or until {@code deadlineNanos} (0 = none).
     *
     * @return false if the deadline passed first
     */
    boolean awaitReadable(long deadlineNanos) {
        readWaiter = Thread.currentThread();
        try {
            return await(true, deadlineNanos);
        } finally {
            readWaiter = null;
        }
    }

    /** As {@link #awaitReadable}, for writing. */
    boolean awaitWritable(long deadlineNanos) {
        writeWaiter = Thread.currentThread();
        try {
            return await(false, deadlineNanos);
        } finally {
            writeWaiter = null;
        }
    }

    /** The thread waiting for room ({@link #awaitWritable}), or null; for tests. */
    Thread writeWaiter() {
        return writeWaiter;
    }

    private boolean await(boolean read, long deadlineNanos) {
        while (!(read ? readable || inputEnded : writable) && !hungUp && end == null
                && !Thread.currentThread().isInterrupted()) {
            if (deadlineNanos == 0) {
                LockSupport.park(this);
            } else {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, left);
            }
        }
        return true;
    }

    /**
     * The source can no longer tell this socket's edges ({@code cause}: its poller failed, for this
     * socket or for good): closes as {@link #close()} does, and the woken waiters find
     * {@link #failure()}. Any thread; a Readiness closed already stays as it was.
     */
    public void fail(Throwable cause) {
        close(cause);
    }

    /** Why the source gave up on this socket ({@link #fail}), or null. */
    Throwable failure() {
        return end instanceof Throwable cause ? cause : null;
    }

    /** Wakes both directions for good and deregisters; idempotent. */
    void close() {
        close(CLOSED);
    }

    /**
     * Closes the source's own descriptor for the socket, if it has one ({@link Owner#closeDescriptor}).
     * Once, by whoever made the calls on it: after {@link #close()}, once no call on it is under way
     * and none can start — its number may name another socket as soon as it is closed.
     */
    void closeDescriptor() {
        owner.closeDescriptor(this);
    }

    /**
     * {@link #close()} ({@code how} is {@link #CLOSED}), or {@link #fail} ({@code how} is its
     * cause). The first close decides, in one compare-and-set: a waiter that sees the close sees
     * how, and a close by the owner that came first is not taken for a failure.
     */
    private void close(Object how) {
        if (!END.compareAndSet(this, null, how)) {
            return;
        }
        readable = true;
        writable = true;
        Thread r = readWaiter;
        Thread w = writeWaiter;
        try {
            if (r != null) {
                LockSupport.unpark(r);
            }
            if (w != null) {
                LockSupport.unpark(w);
            }
            runReadCallback();
        } finally {
            owner.deregister(this); // whatever a wake-up threw (out of memory): no later close would
        }
    }
}
