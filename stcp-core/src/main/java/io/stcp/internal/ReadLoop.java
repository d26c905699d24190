package io.stcp.internal;

import io.stcp.ConnectionReader;
import io.stcp.ReaderStalledException;
import io.stcp.Sender;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

/**
 * The read loop of a {@link RealConnectionRunner}: calls the connection's reader until the
 * connection ends, on one reader thread at a time. On a transport that can call back, a loop with
 * nothing to read suspends — its thread ends, and a new one goes on when input comes (or a read
 * deadline, the read timeout, or the close) — so an idle connection holds no thread. A reader that keeps returning
 * without reading a byte is stopped ({@link ReaderStalledException}). A call that returns once the
 * input is over ends the loop at once: after the peer's end of stream (as a peer close, see
 * {@link ConnectionInput#endCall()}), or, returning without reading a byte, after the connection
 * closed — rather than call a reader that swallowed the end until the stall detector fires.
 *
 * <p><b>Threads.</b> {@link #enter()}, {@link #run} and {@link #leave()} come from the reader
 * thread: the runner's first thread, or one that a suspension's resumption started;
 * {@link #requestExit()}, {@link #interruptReader()} and {@link #readerCalls()} from any thread.
 *
 * <p><b>Interrupts.</b> An exit may race with the reader thread leaving the loop. This object's
 * monitor guards {@link #readerThread} and {@link #readerInLoop} (held for a few field writes and
 * never across a wait; only an exit racing the reader contends for it, and on JDK 21 a virtual
 * thread that finds it taken waits pinned, briefly; it costs an idle connection nothing, where a
 * lock object would cost 48 bytes): states <i>in the loop</i> (from
 * {@link #enter()}) → <i>out</i> (at {@link #leave()}, or while suspended). An exit interrupts the
 * reader thread only while it is in the loop, running user code for this connection (the sender
 * factory, the start hooks, the reader), and the reader thread clears its interrupt status under
 * the same monitor when it goes out, so an exit never leaks an interrupt into the flush, the exit
 * hooks or a thread that has stopped being the reader.
 *
 * <p><b>Finishing.</b> A graceful shutdown (a server's, or a client's) does not interrupt: it
 * marks the input {@linkplain ConnectionInput#finish() finishing}, and the loop begins no reader
 * call once it sees that — at its top, and again after a suspension that did not end it — while
 * the call in progress, if any, runs to its return (its waits between requests throw instead: see
 * {@link ConnectionInput}). Then the loop is over, as after {@link #requestExit()}. A graceful
 * close ({@link ConnectionClose#closeGracefully}) ends the loop the same way, and more: the call in
 * progress reads no more of the peer's input either (see {@link ConnectionInput}, "A graceful close").
 */
final class ReadLoop {
    private static final int STALL_CALLS = 1000;
    private static final long STALL_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final VarHandle READER_CALLS = Fields.handle(MethodHandles.lookup(), "readerCalls", long.class);

    private final RealConnection connection;
    private final ConnectionReader reader;
    private final Resumption resumption;      // null unless the transport can call back: then an idle loop holds no thread
    private volatile boolean exitRequested;
    private long readerCalls;                 // reader thread; read racily for stats (opaque)
    private SuspensionDeadline deadlineWatch; // reader threads only (one at a time)
    private ReadIdleWatch idleWatch;          // reader threads only (one at a time)
    // The stall detector, across suspensions: reader threads only (one at a time).
    private long lastProgress;
    private int idleCalls;
    private long idleSince;

    private Thread readerThread;   // guarded by this
    private boolean readerInLoop;  // guarded by this

    /** @param runner what a resumption goes on with, on its new thread: its way back into {@link #run} */
    ReadLoop(RealConnection connection, ConnectionReader reader, RealConnectionRunner runner) {
        this.connection = connection;
        this.reader = reader;
        this.resumption = connection.canSuspendReads() ? new Resumption(runner) : null;
    }

    /** The loop ends before its next reader call; see {@link #interruptReader()} for one in progress. */
    void requestExit() {
        exitRequested = true;
    }

    boolean exitRequested() {
        return exitRequested;
    }

    /** Interrupts the reader thread if it is in the loop, unless that is the calling thread. */
    void interruptReader() {
        synchronized (this) {
            if (readerInLoop && readerThread != Thread.currentThread()) {
                readerThread.interrupt();
            }
        }
    }

    /** The calling thread becomes the reader thread, in the loop. */
    void enter() {
        synchronized (this) {
            readerThread = Thread.currentThread();
            readerInLoop = true;
        }
        connection.readerThread(Thread.currentThread());
    }

    /**
     * Whether the calling thread is this connection's: the one that entered last, from its start
     * hooks (or its resumption) to the end of its exit hooks; no thread while suspended. Any
     * thread; takes the monitor (for a shutdown's check, never on a message's path).
     */
    synchronized boolean isOwnThread() {
        return readerThread == Thread.currentThread();
    }

    /** No more interrupts from an exit: the reader's part is over. */
    void leave() {
        synchronized (this) {
            readerInLoop = false;
            Thread.interrupted(); // an exit interrupt is for the loop, not for the flush or the exit hooks
        }
    }

    /** Reader calls that returned; any thread (a monitoring read, possibly a moment behind). */
    long readerCalls() {
        return (long) READER_CALLS.getOpaque(this);
    }

    /**
     * Calls the reader until the connection ends, or until it has nothing to read between two
     * calls on a transport that can call back: then it suspends — the thread ends, and the
     * resumption goes on on a new one when input comes (or a read deadline, the read timeout, or the close).
     *
     * @return true if suspended; false when the loop is over (exit requested, finishing, or closing gracefully)
     */
    boolean run(Sender s) throws Exception {
        ConnectionInput input = connection.input();
        while (!exitRequested && !input.beginsNoCall()) {
            if (suspend(input)) {
                return true;
            }
            if (input.beginsNoCall()) {
                break; // the shutdown, or a graceful close, began while this loop looked for input: no new call
            }
            input.beginCall();
            try {
                reader.read(s, connection);
            } finally {
                input.giveUp(); // the large value it read last, if any, however the call ended
            }
            input.endCall();
            READER_CALLS.setOpaque(this, readerCalls + 1);
            long progress = input.progress();
            if (progress != lastProgress) {
                lastProgress = progress;
                idleCalls = 0;
                continue;
            }
            if (!input.isOpen()) {
                // Closed (by another thread: its close recorded why) and the reader swallowed what its
                // read threw: nothing is left to read, and calling it again would only spin.
                return false;
            }
            if (idleCalls++ == 0) {
                idleSince = System.nanoTime();
            } else if (idleCalls >= STALL_CALLS) {
                if (System.nanoTime() - idleSince < STALL_WINDOW_NANOS) {
                    throw new ReaderStalledException("the reader returned " + idleCalls
                            + " times within 1s without reading a byte; a reader must block on the connection");
                }
                idleCalls = 0;
            }
        }
        return false;
    }

    /**
     * Suspends the read loop if the input is empty and the transport can call back. The thread
     * stops being the reader first (no interrupt can reach it any more, and a close now resumes
     * the loop through the transport's callback); a deadline that would end the wait, and the read
     * timeout, are watched by the sweeper, which resumes the loop when one passes.
     */
    private boolean suspend(ConnectionInput input) {
        Resumption r = resumption;
        if (r == null) {
            return false;
        }
        boolean timedOut = r.takeTimedOut();
        if (input.buffered() > 0) {
            return false;
        }
        input.payOwedDrain(); // before this thread ends
        if (input.mayBeReadable()) {
            // The transport's callback would come at once (a resumption's first pass, woken by the
            // input it now reads): reading on this thread costs no registration, clock or buffer.
            // Input that came as the read timeout passed is read.
            return false;
        }
        if (timedOut) {
            input.idleTimedOut();
            return false; // the reader's read throws the timeout
        }
        long deadline = input.prepareSuspension();
        if (deadline < 0) {
            return false;
        }
        if (input.beginsNoCall()) {
            // The connection shuts down, or closes gracefully: whether or not it saw this loop at
            // rest, the loop ends here rather than leave no thread to end it.
            input.resumed(false);
            return false;
        }
        long now = deadline == 0 ? 0 : System.nanoTime(); // no clock read without a deadline
        if (deadline != 0 && Nanos.passed(deadline, now)) {
            input.resumed(false);
            return false; // resumed by it, say: the reader's read throws it
        }
        synchronized (this) {
            readerInLoop = false;
            readerThread = null;
            Thread.interrupted();
        }
        connection.readerThread(null);
        int generation = r.suspend();
        if (deadline != 0) {
            deadlineWatch(deadline, now).watch(generation, deadline);
        } else if (deadlineWatch != null) {
            deadlineWatch.replace(); // nothing to watch: a fast tick made for an earlier, near deadline must not stay
            deadlineWatch = null;
        }
        watchIdle(input.deadlines().suspendedIdleNanos());
        if (input.onReadable(r)) {
            if (r.arm(generation)) {
                return true; // this thread ends; the resumption goes on
            }
            // Ended while it was being registered (input came, or the deadline): go on here.
        } else {
            r.cancel(); // input may be there already: read on this thread
        }
        enter();
        input.resumed(false); // after enter(): a close never sees this loop with no reader thread and not awaiting input
        return false;
    }

    /**
     * Makes sure a {@link ReadIdleWatch} with a tick that fits the read timeout {@code idleNanos}
     * watches the suspensions, or none if it is 0. No clock read: at one frame in flight this runs
     * per message.
     */
    private void watchIdle(long idleNanos) {
        ReadIdleWatch w = idleWatch;
        if (idleNanos == 0) {
            if (w != null) {
                w.replace();
                idleWatch = null;
            }
            return;
        }
        long tick = ReadIdleWatch.tickNanos(idleNanos);
        if (w == null || !w.fits(tick)) {
            if (w != null) {
                w.replace();
            }
            w = new ReadIdleWatch(resumption, tick);
            idleWatch = w;
            connection.context().sweeper().add(w);
        }
    }

    /**
     * The sweeper's watch for a suspension that ends at {@code deadline}: the one made before, unless
     * its tick is too long for a wait this short (a read deadline near, or the first frame's), or
     * far shorter than a wait this long needs; then a new one replaces it (see {@link SuspensionDeadline}).
     */
    private SuspensionDeadline deadlineWatch(long deadline, long now) {
        SuspensionDeadline w = deadlineWatch;
        long tick = SuspensionDeadline.tickNanos(deadline - now);
        if (w == null || !w.fits(tick)) {
            if (w != null) {
                w.replace();
            }
            w = new SuspensionDeadline(resumption, tick);
            deadlineWatch = w;
            connection.context().sweeper().add(w);
        }
        return w;
    }
}
