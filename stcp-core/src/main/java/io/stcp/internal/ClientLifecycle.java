package io.stcp.internal;

import io.stcp.CloseReason;
import java.net.ConnectException;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A {@link RealTcpClient}'s state, and every change of it: started, the connection a close must
 * end, the drain of a shutdown, the failed attempts, closed. The dial loop asks for its changes
 * through the methods of "the dial loop's side" below, each taking the lock; a close and a
 * shutdown through those of "closing".
 *
 * <p><b>States</b> ({@link #state}, written under {@link #lock}, volatile for the not-connected
 * message): NEW → RUNNING → CLOSED, or NEW → CLOSED. Every move to CLOSED, but that of a
 * {@link #start} that could not start the dialler, is {@link #stop}'s, under the lock, and sets
 * {@link #ended} with it: null for a close or a shutdown, the {@link ConnectException} when the
 * dial loop gives up, the throwable when it failed (a bug, out of memory: nobody would dial any
 * more, so the client must not stay RUNNING).
 *
 * <p><b>Closing.</b> {@link #close()} moves to CLOSED under the lock, then ends the current
 * runner (if any) and interrupts the dialler, which ends whatever it waits in — a back-off sleep,
 * a connect — and, if it runs a connection, waits for that connection's exit (uninterruptibly:
 * the close has ended it) before the client terminates ({@link #diallerEnded}). A runner is
 * stored only under the lock while RUNNING or draining ({@link #attach}), so close always sees
 * the connection it must end. A close that finds the client CLOSED already ends that connection
 * all the same ({@link #endCurrent}): a shutdown may be draining the offline backlog or flushing
 * the connection, and a close waits for neither. Whoever moved the client to CLOSED (the one
 * {@link #stop} answered) says so to the {@link ClientTermination} once it has ended the
 * connection ({@link ClientTermination#closeDone}), whether that failed or not.
 *
 * <p><b>The drain</b> ({@link #draining}, with CLOSED: see {@link ClientShutdown}). A graceful
 * {@link #stop} that finds a backlog in the outbox ({@link Outbox#shutDown}) sets it; while it
 * is set the dial loop goes on as while RUNNING ({@link #isRunning}, {@link #attach}: back-off,
 * dial, run the connection that comes up, which takes the backlog). It is cleared, once, under
 * the lock ({@link #endDrain}), by the shutdown ({@link #endShutdownDrain}), by a
 * {@link #close()}, or by the dialler's end (it gave up or failed); then no connection attaches
 * any more, the outbox closes, discarding (and counting) what is left, the dialler is woken, and
 * the connection attached then ({@link #drainedTo}), if any, is the one the shutdown shuts down.
 *
 * <p><b>What the senders discarded.</b> Each connection's runner counts every message its sender
 * discarded, whichever thread's close did it, and the count is whole once it has exited
 * ({@link RealConnectionRunner#discardedInAll}). The dialler {@link #detach}es a connection only
 * after its exit, and adds its count to {@link #lost} then: so at termination every connection
 * has been counted once, whether it broke long before a shutdown, during a drain, or was the one
 * a shutdown or a close ended.
 */
final class ClientLifecycle {
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;

    private final Outbox outbox;
    private final ClientTermination termination;

    private final ReentrantLock lock = new ReentrantLock();
    private volatile int state = NEW;                          // written under lock
    private volatile int failures;                             // written under lock: failed attempts in a row
    private volatile @Nullable Throwable ended;                 // written under lock, by stop: why it ended by itself
    private @Nullable Thread dialler;                          // guarded by lock
    private @Nullable RealConnectionRunner runner;             // guarded by lock
    private boolean draining;                                  // guarded by lock: see the class comment
    private @Nullable RealConnectionRunner drainedTo;          // guarded by lock: attached when the drain ended
    private long lost;                                         // guarded by lock: discarded by the senders detached

    ClientLifecycle(Outbox outbox, ClientTermination termination) {
        this.outbox = outbox;
        this.termination = termination;
    }

    /**
     * NEW → RUNNING: starts the dialler, on a thread named {@code name}, running {@code dialLoop}.
     *
     * @throws IllegalStateException if started or closed already
     */
    void start(String name, Runnable dialLoop) {
        start(name, dialLoop, true);
    }

    /**
     * As {@link #start}, if the client is NEW (checked and started in one step, under the lock:
     * {@code runUntilSignal} starts a new client, and two callers at once start it once).
     *
     * @return false if it was started or closed already: nothing done
     */
    boolean startIfNew(String name, Runnable dialLoop) {
        return start(name, dialLoop, false);
    }

    private boolean start(String name, Runnable dialLoop, boolean mustBeNew) {
        lock.lock();
        try {
            if (state != NEW) {
                if (!mustBeNew) {
                    return false;
                }
                throw new IllegalStateException(state == RUNNING ? "client already started" : "client closed");
            }
            state = RUNNING; // before the dialler starts: it runs while RUNNING
            outbox.open();
            try {
                dialler = Threads.start(name, dialLoop);
            } catch (RuntimeException | Error e) {
                state = CLOSED;
                outbox.close();
                termination.closeDone(false);
                termination.terminated(null);
                throw e;
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- the dial loop's side (its threads)

    /** Whether the dial loop goes on: the client runs, or a shutdown drains the offline backlog. */
    boolean isRunning() {
        lock.lock();
        try {
            return state == RUNNING || draining;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Keeps {@code r} as the connection a close (or shutdown) must end; false, keeping nothing, if
     * the client is neither running nor draining.
     */
    boolean attach(RealConnectionRunner r) {
        lock.lock();
        try {
            if (state != RUNNING && !draining) {
                return false;
            }
            runner = r;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The connection kept by {@link #attach} has exited: what its sender discarded is whole now, and counted. */
    void detach() {
        lock.lock();
        try {
            if (runner != null) {
                lost += runner.discardedInAll();
            }
            runner = null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * A connection ended that served (its reader took a message from the server, or it stayed up
     * long enough: {@link DialLoop}), not one that merely came up: no failed attempts in a row. On
     * the dialler thread.
     */
    void connected() {
        lock.lock();
        try {
            failures = 0;
        } finally {
            lock.unlock();
        }
    }

    /** Counts a failed attempt; returns the failed attempts in a row. */
    int countFailure() {
        lock.lock();
        try {
            return ++failures;
        } finally {
            lock.unlock();
        }
    }

    /** Gives up with {@code failure}: closes the client (the outbox too); false if it was closed already. */
    boolean giveUp(ConnectException failure) {
        return endedBy(failure);
    }

    /**
     * The dial loop failed with {@code failure} (a bug, out of memory): nobody dials any more, so
     * the client closes, the outbox too, and terminates with {@code failure}; false if it was
     * closed already.
     */
    boolean failed(Throwable failure) {
        return endedBy(failure);
    }

    /** Closes the client on the dial loop's side, which holds no connection then. */
    private boolean endedBy(Throwable why) {
        Stopped s = stop(why, false);
        if (s == null) {
            return false;
        }
        endConnection(s); // none runs, between connections
        return true;
    }

    /**
     * The dialler thread ends: the client has terminated. A drain it ends (it gave up or failed
     * meanwhile: no connection will come) discards the backlog, counted.
     */
    void diallerEnded() {
        lock.lock();
        try {
            dialler = null;
            endDrain();
        } finally {
            lock.unlock();
        }
        outbox.close(); // closed already (nothing to discard), unless it ended a drain
        termination.terminated(ended);
    }

    // ---------------------------------------------------------------- what the client's callers see (any thread)

    /**
     * Why no connection is up, for the not-connected message. Reads volatile state only: the
     * outbox calls it under its own lock.
     */
    String notConnectedWhy() {
        int f = failures;
        Throwable e = ended;
        return switch (state) {
            case NEW -> "not started";
            case RUNNING -> f == 0 ? "connecting" : "reconnecting after " + f + (f == 1 ? " failed attempt" : " failed attempts");
            default -> e == null ? "client closed" : e instanceof ConnectException ? e.getMessage() : "client failed: " + e;
        };
    }

    /**
     * Whether the calling thread is the client's own: its connection's reader or a hook on that
     * thread (the connect and disconnect hooks), or the dialler (the give-up hook), whose end a
     * shutdown waits for.
     */
    boolean isOwnThread() {
        lock.lock();
        try {
            return dialler == Thread.currentThread() || runner != null && runner.isOwnThread();
        } finally {
            lock.unlock();
        }
    }

    /** What the senders of the connections detached so far discarded: all of them once the client has terminated. */
    long lost() {
        lock.lock();
        try {
            return lost;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- closing

    /** What {@link #stop} found: the connection to end and the thread to wake; whether a drain began. */
    record Stopped(boolean wasNew, @Nullable RealConnectionRunner runner, @Nullable Thread dialler, boolean draining) {}

    /**
     * Moves to CLOSED, ended by {@code why} (null: closed by the user); {@code graceful} for a
     * shutdown, which drains the offline backlog if there is one ({@link Outbox#shutDown},
     * {@link #draining}). Null if it was closed already.
     */
    @Nullable Stopped stop(@Nullable Throwable why, boolean graceful) {
        lock.lock();
        try {
            if (state == CLOSED) {
                return null;
            }
            boolean wasNew = state == NEW;
            state = CLOSED;
            ended = why;
            try {
                if (graceful && outbox.shutDown()) {
                    draining = true; // with CLOSED, under the lock: the dial loop goes on
                } else {
                    outbox.close();
                }
            } catch (Throwable t) { // out of memory: the close goes no further, but no shutdown may wait for it
                termination.closeDone(true);
                throw t;
            }
            return new Stopped(wasNew, runner, dialler, draining);
        } finally {
            lock.unlock();
        }
    }

    /** {@link io.stcp.TcpClient#close()}. */
    void close() {
        Stopped s = stop(null, false);
        if (s == null) {
            endCurrent(); // closed already: a shutdown's drain or flush, if one runs, stops now
            return;
        }
        endConnection(s);
        wake(s);
    }

    /**
     * Ends what a shutdown before this close left running: its drain, if one runs — the backlog
     * not yet handed on is discarded and counted, and the dialler, dialling for it, is woken — and
     * the connection, if any: a shutdown flushing it ({@link ClientShutdown}) is cut short, the rest
     * of its queue discarded and counted (in its runner). Ending a connection a close ended
     * already changes nothing.
     */
    private void endCurrent() {
        RealConnectionRunner r;
        Thread d = null;
        lock.lock();
        try {
            r = runner;
            if (endDrain()) {
                d = dialler;
            }
        } finally {
            lock.unlock();
        }
        outbox.close(); // before the connection's end, so that a hand-over it stops discards its rest
        if (r != null) {
            r.exit(CloseReason.CLOSED);
        }
        if (d != null && d != Thread.currentThread()) {
            d.interrupt();
        }
    }

    /**
     * The shutdown's drain is over (the backlog delivered, or the deadline): ends it, if a close
     * or the dialler's end has not, and returns the connection attached at its end, if any: the
     * one the shutdown shuts down.
     */
    @Nullable RealConnectionRunner endShutdownDrain() {
        lock.lock();
        try {
            endDrain();
            return drainedTo;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends the drain, if one runs: no connection attaches from now on, and the one attached now,
     * if any, is the shutdown's to end ({@link #drainedTo}). Under the lock.
     *
     * @return whether a drain ended now
     */
    private boolean endDrain() {
        if (!draining) {
            return false;
        }
        draining = false;
        drainedTo = runner;
        return true;
    }

    /**
     * Ends the connection of a close at once, then says the close is done
     * ({@link ClientTermination#closeDone}), whatever happens.
     */
    private void endConnection(Stopped s) {
        boolean ended = false;
        try {
            if (s.runner != null) {
                s.runner.exit(CloseReason.CLOSED);
            }
            ended = true;
        } finally {
            termination.closeDone(!ended); // a shutdown waiting for it must not wait for ever
        }
    }

    /** After {@link #stop}: a client that never started has terminated; else its dialler stops what it waits in. */
    void wake(Stopped s) {
        if (s.wasNew) {
            termination.terminated(null);
        } else if (s.dialler != null && s.dialler != Thread.currentThread()) {
            s.dialler.interrupt();
        }
    }
}
