package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ReadTimeoutException;
import io.stcp.internal.ConnectionInput.Awaiting;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The one place where a connection closes, and why.
 *
 * <p><b>States</b>, in {@link #state}:
 * <pre>
 *   OPEN ──closeGracefully──▶ DRAINING ──drained──▶ OUTPUT_SHUT ──▶ LINGERING ──▶ CLOSED
 *     └──────────────────── close(reason), from any state ─────────────────────────▶ CLOSED
 * </pre>
 * <ul>
 *   <li>DRAINING: the first {@link #closeGracefully} ends the input for the application's reader
 *       ({@link ConnectionInput#closing()}: it reads none of the peer's bytes from now on, only the
 *       linger below reads them, and drops them), and has its waits hold nothing back in the kernel
 *       ({@link Transport#stopAwaitingInput()}): a read waiting for more than has arrived — a large
 *       value's rest — now or from now on, takes what came instead, which ends its reading; then
 *       runs its sender's drain (write what is queued, take nothing new);</li>
 *   <li>OUTPUT_SHUT: it shuts the output down (FIN), unless the drain left the connection closed;</li>
 *   <li>LINGERING: if the peer may still be sending, it waits — at most {@link #LINGER_NANOS} —
 *       for the reader to see the peer's end of stream, because closing with input unread makes the
 *       kernel send a reset, which destroys replies not yet delivered. The reader thread itself
 *       reads and drops input meanwhile ({@link ConnectionInput#discardUntilEnd}), at most
 *       {@link #LINGER_BYTES} of it, and past that waits without reading. On a connection no
 *       runner reads ({@code Connection.of}), this thread is the reader: it takes the input once
 *       no application read is under way ({@link RealConnection#takeInputToClose}) and, unless
 *       nothing is unread and the peer was not seen sending ({@link PeerQuiet#sawPeerSending}),
 *       reads as the reader thread would (before, nobody read, and the close reset the peer). No
 *       wait when
 *       a runner's loop has no reader thread and none blocked or suspended waiting for input, or
 *       when the reader waits so for its next value, none of it in hand, and nothing is unread
 *       (the peer is idle). A reader waiting for the rest of a value with nothing unread is waited
 *       for until the peer has sent nothing for {@link #QUIET_NANOS} ({@link PeerQuiet}): the peer
 *       is in the middle of sending it, and its next bytes, coming after the close, would draw a
 *       reset (it was taken as idle, and the close closed at once). With bytes unread, the reader
 *       is about to take them (no wait holds them back, see DRAINING), which ends its reading, and
 *       the linger's reading is then its own ({@link #awaitGracefulClose}: it ends the close at the
 *       peer's end of stream, or once the peer is quiet), or this thread's. A runner's reader seen
 *       neither waiting nor gone is waited for until its end of stream, or until it begins a wait
 *       with nothing unread ({@link #waitsWhileClosing}), and looked at again then. The reader
 *       thread's end, reading and dropping for this close, is not seen waiting: nothing unread
 *       between two of a peer's writes is no sign of an idle peer (taken for one, the peer's next
 *       write drew a reset); it closes once the peer is quiet.
 *       On the reader thread, the wait also ends once the peer has sent nothing for
 *       {@link #QUIET_NANOS};</li>
 *   <li>CLOSED: the transport is closed; then {@link #RELEASED} happens. The first
 *       {@link #closeGracefully} returns after it, once its drain has returned:
 *       {@link #GRACEFUL_OVER} happens then.</li>
 * </ul>
 * {@link #close} goes to CLOSED from anywhere, at once. A second {@link #closeGracefully}, while
 * the first runs, waits for the first to be over instead — on the reader thread it reads and drops
 * the peer's input meanwhile, so the first one's linger can end, and once the peer has sent nothing
 * for {@link #QUIET_NANOS} while the first lingers (nothing left to write, the FIN sent) it closes
 * the connection itself, as that linger would on this thread. So does the reader thread at its end,
 * when a graceful close runs on another thread ({@link #awaitGracefulClose()}): its reader's reads
 * ended when the close began, and the linger's reading is then its. Both wait for
 * {@link #GRACEFUL_OVER}, not only for the close — once it is closed, by their own deadline too, at
 * most {@link #OVER_GRACE_NANOS} more: a drain whose deadline passed closes the
 * connection and then still counts what it discarded, for its caller; a close of the sender after
 * the wait (the reader's end's) finds none of it, so the count goes to that caller, not to the
 * exit line, whichever thread is quicker (it went to whichever closed the sender first).
 * {@link #GRACEFUL} says that a first graceful close exists: set before that close ends the
 * reader's input, so a reader that ends for it sees it.
 *
 * <p><b>Reason.</b> Recorded once ({@link #recordEnd}), by whoever first knows why the connection
 * ends — the server shutting down, the sweeper timing out a write, a sender finding a slow
 * consumer, the runner classifying its reader's failure; every later cause is ignored. A graceful
 * close records its reason (CLOSED) only as it ends, so that a failure of the reader's own meanwhile
 * comes first; an end decided outside the connection — a shutdown, an exit — that lands while one
 * runs is that close's end all the same, not its own ({@link #recordOutsideEnd}): the close began
 * first.
 *
 * <p><b>Waiting.</b> Four events may be waited for by other threads: {@link #INPUT_ENDED} (the
 * reader saw the peer's end of stream, or the connection closed), {@link #RELEASED} (closed,
 * transport and all), {@link #GRACEFUL_OVER} (the first graceful close returns) and
 * {@link #READ_WAITS} (a read began a wait for input while closing, nothing unread: the linger
 * looks again; the only event undone, by the linger, before each look). Most
 * connections are never waited on, so there is no latch until the first waiter makes one; any
 * event counts it down and drops it, and a waiter woken for another event waits again on a new
 * one. No lock: an event sets its bit and then takes the latch, a waiter publishes the latch and
 * then looks at the bits (both volatile), so either the event finds the latch or the waiter finds
 * the bit.
 */
final class ConnectionClose implements ConnectionInput.EndOfStream {
    static final long LINGER_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** While lingering, on the reader thread or for a reader waiting for the rest of a value: a peer that sends nothing for this long is taken to be idle. */
    static final long QUIET_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /**
     * While lingering on the reader thread: the most of the peer's input it reads and drops. Past
     * that it reads no more and waits out the linger: the replies keep going out (the peer's
     * flow control stops its sending, not our output), and the close at the end resets the
     * connection if the peer is still sending then. Reading only ends the linger sooner, at the
     * peer's end of stream; a peer that kept sending had the thread read and drop its bytes at full
     * speed for the whole 2 s, a core per connection on loopback, whether it flooded or pipelined
     * requests while it read its replies (which it must still get). 1 MiB: a peer that sent a few
     * requests past the end, or a socket buffer's worth, closes within it, and its connection ends
     * at once, as before; reading it costs about a millisecond.
     */
    static final long LINGER_BYTES = 1 << 20;

    private static final int OPEN = 0;
    private static final int DRAINING = 1;
    private static final int OUTPUT_SHUT = 2;
    private static final int LINGERING = 3;
    private static final int CLOSED = 4;

    /**
     * How long a wait for a graceful close to be over waits once the connection is closed: its
     * drain's writes fail then, and it returns at once (a queue sender's within a second); one
     * that ignores the close is not waited for longer.
     */
    private static final long OVER_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);

    private static final int INPUT_ENDED = 1;
    private static final int RELEASED = 2;
    private static final int GRACEFUL = 4;      // a first graceful close runs, or ran (not an event: wakes nobody)
    private static final int GRACEFUL_OVER = 8; // that close has returned
    private static final int READ_WAITS = 16;   // a read began a wait for input while closing, nothing unread (cleared by the linger that waits for it)

    private final RealConnection connection;
    private static final VarHandle STATE = Fields.handle(MethodHandles.lookup(), "state", int.class);
    private static final VarHandle REASON = Fields.handle(MethodHandles.lookup(), "reason", CloseReason.class);
    private static final VarHandle HAPPENED = Fields.handle(MethodHandles.lookup(), "happened", int.class);
    private static final VarHandle WAITERS = Fields.handle(MethodHandles.lookup(), "waiters", CountDownLatch.class);
    private static final VarHandle CHANNEL = Fields.handle(MethodHandles.lookup(), "channel", ConnectionChannel.class);

    private volatile int state = OPEN;
    private volatile CloseReason reason;
    private volatile Throwable cause;
    private volatile int happened;            // INPUT_ENDED | RELEASED | GRACEFUL | GRACEFUL_OVER | READ_WAITS
    private volatile CountDownLatch waiters;  // made by the first waiter, taken by the next event
    private volatile ConnectionChannel channel; // what Connection.channel() returns, made by its first call

    ConnectionClose(RealConnection connection) {
        this.connection = connection;
    }

    /**
     * What {@code Connection.channel()} returns ({@link ConnectionChannel}, over {@code jdk}): made
     * by the first call, one for the connection's life, and closed by {@link #close}, or at once if
     * the connection is closed already (the close publishes CLOSED and then looks for the channel;
     * this publishes the channel and then looks for CLOSED: one of them sees the other). Kept here,
     * in a field that costs no memory (the object had 4 bytes of padding), not in the connection.
     */
    ConnectionChannel channel(SocketChannel jdk) {
        ConnectionChannel c = channel;
        if (c != null) {
            return c;
        }
        c = new ConnectionChannel(jdk, connection);
        if (!CHANNEL.compareAndSet(this, null, c)) {
            return channel;
        }
        if (state == CLOSED) {
            c.connectionClosed();
        }
        return c;
    }

    boolean isClosed() {
        return state == CLOSED;
    }

    CloseReason reason() {
        return reason;
    }

    Throwable cause() {
        return cause;
    }

    /** The reader has read the peer's end of stream. */
    @Override
    public void inputEnded() {
        happen(INPUT_ENDED);
    }

    /** A timeout ended the reader's input: the connection ends with it, whatever the reader throws next. */
    @Override
    public void inputTimedOut(ReadTimeoutException e) {
        recordEnd(Ends.classify(e), e);
    }

    /** A read failed for good (a reset, a close): the connection ends with it, unless its end was recorded already. */
    @Override
    public void inputFailed(IOException e) {
        recordEnd(Ends.classify(e), e);
    }

    /** A read began a wait for input as this close runs: see {@link RealConnection#readWaitsWhileClosing()}. */
    @Override
    public void waitsWhileClosing() {
        happen(READ_WAITS); // a linger on another thread looks again
        connection.readWaitsWhileClosing();
    }

    /**
     * Records why the connection ends, unless a reason is recorded already.
     *
     * @return the reason in force: {@code r}, or the one recorded before
     */
    CloseReason recordEnd(CloseReason r, Throwable why) {
        if (REASON.compareAndSet(this, null, r)) {
            cause = why;
            return r;
        }
        return reason;
    }

    /**
     * Records {@code r}, an end decided outside the connection (a server's or client's shutdown or
     * close, an exit), unless a reason is recorded already, or a graceful close runs: then that
     * close's end is the connection's (see the class comment).
     *
     * @return the reason in force: {@code r}, the one recorded before, or CLOSED, the graceful close's
     */
    CloseReason recordOutsideEnd(CloseReason r) {
        int s = state;
        if (s != OPEN && s != CLOSED) {
            CloseReason recorded = reason;
            return recorded != null ? recorded : CloseReason.CLOSED; // recorded by that close as it ends
        }
        return recordEnd(r, null);
    }

    /** CLOSED, at once, recording {@code r} unless a reason is recorded already. */
    void close(CloseReason r, Throwable why) {
        recordEnd(Objects.requireNonNull(r, "reason"), why);
        if ((int) STATE.getAndSet(this, CLOSED) != CLOSED) {
            // A transport never throws from close(); one that does anyway (a bug, out of memory)
            // must not skip the wake-ups below, nor escape into the exit, the server's stop or the
            // client's close that called this: logged (close.failed), and the close goes on.
            // Nothing is allocated before it (no method reference): on a full heap an allocation
            // here would throw first, and leave the socket open with no one to read or close it.
            Quietly.close(connection.transport(), "transport");
            ConnectionChannel c = channel;
            if (c != null) {
                c.connectionClosed(); // never throws
            }
            InboundBudget budget = connection.input().budget();
            if (budget != null) {
                budget.wakeWaiters(); // a reader waiting there for room, perhaps with no deadline, sees the close
            }
            happen(INPUT_ENDED | RELEASED);
        }
    }

    /** See {@link Connection#closeGracefully(Duration, Connection.Drain)}. */
    int closeGracefully(Duration timeout, Connection.Drain drain) {
        Objects.requireNonNull(drain, "drain");
        long deadline = Nanos.within(timeout);
        if (!STATE.compareAndSet(this, OPEN, DRAINING)) {
            awaitOthersClose(deadline);
            return 0;
        }
        HAPPENED.getAndBitwiseOr(this, GRACEFUL); // before the reader's input ends for it: see the class comment
        int discarded = 0;
        try {
            connection.input().closing(connection.isReaderThread());
            connection.transport().stopAwaitingInput(); // after closing(): a read it ends finds the close (see the class comment)
            discarded = drain.drain(Nanos.remaining(deadline));
            if (STATE.compareAndSet(this, DRAINING, OUTPUT_SHUT)) {
                connection.shutdownOutput(deadline); // close_notify waits no longer than the close
                if (STATE.compareAndSet(this, OUTPUT_SHUT, LINGERING)) {
                    linger(Nanos.earliest(deadline, Nanos.deadline(System.nanoTime(), LINGER_NANOS)));
                }
            }
        } catch (IOException | RuntimeException e) {
            // the socket failed under the drain or the FIN: nothing more to flush
        } finally {
            close(CloseReason.CLOSED, null);
            happen(GRACEFUL_OVER);
        }
        return discarded;
    }

    /** LINGERING: waits for the peer's end of stream if it may still be sending. */
    private void linger(long deadline) {
        ConnectionInput input = connection.input();
        if (input.isEndOfStream()) {
            return; // the peer is done
        }
        HAPPENED.getAndBitwiseAnd(this, ~READ_WAITS); // before the look below: a wait begun after it is told by the bit
        // A read loop is never without a reader thread and not awaiting input: it awaits input
        // before its thread stops being the reader (a suspension), and stops only once a thread is
        // the reader again. Read one at a time, though, the two may straddle such a change — the
        // reader thread seen gone by a suspension, then awaiting input seen cleared by the thread
        // that goes on when input comes, which is just when input is unread — so awaiting input
        // is read on both sides of the reader thread.
        Awaiting awaiting = input.awaiting();
        Thread reader = connection.readerThread();
        PeerQuiet quiet = new PeerQuiet(connection); // the looks of a close on another thread
        if (reader == null && !connection.runnerReads()) { // no runner: the application's threads read, if any
            if (!connection.takeInputToClose(deadline, quiet)) {
                return; // its read waits for input the peer does not send (nothing unread: the close ends that read), or time is up
            }
            if (connection.transport().available() == 0 && !quiet.sawPeerSending()) {
                return; // the peer is idle: nothing unread, no reset, as with a reader waiting for its next value
            }
            reader = Thread.currentThread(); // the input is this thread's now, as the reader thread's at its end
        }
        if (reader == Thread.currentThread()) {
            if (input.discardUntilEnd(deadline, QUIET_NANOS, () -> true, LINGER_BYTES)) {
                await(INPUT_ENDED, deadline); // the rest of the linger for the replies, reading no more: a close elsewhere ends it
            }
            return;
        }
        // A runner's reader, on another thread. Seen between two waits — busy, or woken — it may
        // wait again, for input the peer does not send: that wait, begun while closing, tells this
        // one (READ_WAITS, see waitsWhileClosing), which looks again, rather than wait for an end
        // of stream that the reader's wait holds off to the deadline. No spin: a wait after the
        // first begins only once the peer has sent something, and the first read that takes the
        // peer's bytes ends the reading (over TLS, part of a record or a record without data too),
        // so the peer's pace, within the deadline, sets how often this looks. One waiting for the
        // rest of a value is looked at again once the peer may have been quiet long enough
        // (PeerQuiet).
        while (true) {
            if (awaiting == Awaiting.NOTHING && reader == null) {
                awaiting = input.awaiting();
                if (awaiting == Awaiting.NOTHING) {
                    return; // nobody reads, so nothing unread will come out of this wait
                }
            }
            long lookAgain = quiet.closeBy(awaiting, deadline);
            if (lookAgain == 0) {
                return; // blocked in a read, or suspended, and the peer idle or quiet: nothing unread, no reset
            }
            if (await(INPUT_ENDED | READ_WAITS, lookAgain) ? (happened & INPUT_ENDED) != 0
                    : lookAgain == deadline || Thread.currentThread().isInterrupted()) {
                return; // the peer is done (or the connection closed), or time is up
            }
            HAPPENED.getAndBitwiseAnd(this, ~READ_WAITS);
            awaiting = input.awaiting();
            reader = connection.readerThread();
        }
    }

    /**
     * The reader thread's end, while a graceful close runs on another thread, or has closed the
     * connection and not returned yet (one on this thread has returned before): as a second
     * {@link #closeGracefully} with no deadline of its own, it reads and drops the peer's input, at
     * most {@link #LINGER_BYTES}, until the peer is quiet while that close lingers, and waits for
     * that close to be over, which ends by its own deadline. Without it the end would close the
     * sender at once, discarding the replies that close is writing or taking the count its caller
     * is to be told, or record a reason that the close caused (its reads' exceptions) before that
     * close's own; a failure of the reader's own is recorded before (the runner's end). Nothing to
     * do otherwise.
     */
    void awaitGracefulClose() {
        if (state != OPEN) {
            awaitOthersClose(0);
        }
    }

    /**
     * Another caller drains, or did (or none did: a plain {@link #close} came first): on the reader
     * thread, read the peer's input to its end, or until {@link #LINGER_BYTES} are dropped, as a
     * linger does, and close once the peer is quiet while that caller lingers; then wait for that
     * caller to be over, which it is once its replies are written and its linger is over.
     */
    private void awaitOthersClose(long deadline) {
        if (connection.isReaderThread()) {
            ConnectionInput input = connection.input();
            try {
                input.payOwedDrain(); // that caller's drain may wait for the write token it holds, closed or not
            } catch (RuntimeException e) {
                // no send thread could be started for what was queued meanwhile: the sender discarded it
            }
            if (!isClosed() && !input.discardUntilEnd(deadline, QUIET_NANOS, this::lingers, LINGER_BYTES)
                    && lingers()) {
                close(CloseReason.CLOSED, null); // the peer is quiet, and that close waits only for it
            }
        }
        if (!await(RELEASED, deadline)) {
            close(CloseReason.CLOSED, null);
        }
        if ((happened & GRACEFUL) != 0) { // seen once closed, if not before: it is set before the close
            // Closed, if by this call's deadline too: that caller returns at once now, its count
            // with it, which a close of the sender after this call would take.
            await(GRACEFUL_OVER, Nanos.deadline(System.nanoTime(), OVER_GRACE_NANOS));
        }
    }

    /** Whether the graceful close lingers: it has written everything and sent the FIN, and waits only for the peer. */
    private boolean lingers() {
        return state == LINGERING;
    }

    private void happen(int events) {
        HAPPENED.getAndBitwiseOr(this, events);
        CountDownLatch latch = (CountDownLatch) WAITERS.getAndSet(this, (CountDownLatch) null);
        if (latch != null) {
            latch.countDown();
        }
    }

    /** Waits until {@code event} has happened: true, or false at the deadline or an interrupt. */
    private boolean await(int event, long deadline) {
        while ((happened & event) == 0) {
            CountDownLatch latch = waiters;
            if (latch == null) {
                CountDownLatch made = new CountDownLatch(1);
                latch = WAITERS.compareAndSet(this, null, made) ? made : waiters;
                if (latch == null) {
                    continue; // an event took another waiter's latch meanwhile: look again
                }
            }
            if ((happened & event) != 0) {
                break; // it happened before the latch was there to be counted down
            }
            try {
                if (deadline == 0) {
                    latch.await();
                } else if (!latch.await(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    return false;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }
}
