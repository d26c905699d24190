package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.ConnectionRunner;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.event.Level;

/**
 * The {@link ConnectionRunner} implementation.
 *
 * <p>The reader thread owns the lifecycle; its run method is one try/finally:
 * <pre>
 *   sender factory → start hooks → send thread → read loop
 *   → end: a failure of the reader's own is recorded; a graceful close under way on another
 *     thread is waited for (its linger read here)
 *   → the reason is decided once ({@link Ends#classify}), replies flushed or discarded by it
 *   → send thread joined → other threads' closes counted → one conn.exit line → exit hooks
 *     (a proxy's health check, which never started, has no conn.exit line: it is no client's end)
 *   → out of its registry, if any ({@link #registerIn}) → onExited (the server's slot)
 * </pre>
 * Start hooks finish before the reader is first called (same thread); the exit hooks run after
 * both loops have ended, exactly once, and see {@link Connection#closeReason()}.
 *
 * <p>The read loop, its suspensions and how {@link #exit()} reaches a reader thread in it without
 * leaking an interrupt into the flush or the exit hooks: {@link ReadLoop}.
 *
 * <p><b>Counting what was discarded.</b> A close of the sender tells its caller how many messages
 * it discarded, and several may close it at once: the reader at its end, {@link #exit} and
 * {@link #shutdown} on other threads. Each adds what it was told to {@link #discardedInAll}; those
 * on other threads are counted in {@link #closing} from before they close the sender until they
 * have added it. The end, having closed the sender itself, waits (at most {@link #CLOSES_GRACE},
 * parked) until {@link #closing} is 0; the close that brings it to 0 wakes it
 * ({@link #awaitingCloses}). So the exit line, and whoever reads the count once the connection has
 * exited, see every close begun before the end. No wake-up is lost: the end publishes itself
 * before it reads {@link #closing}, and a close decrements before it reads
 * {@link #awaitingCloses} (all volatile), so the last close sees the end waiting, or the end sees 0.
 *
 * <p><b>A graceful shutdown</b> ({@link #finishAndShutdown}: a server's, of each of its
 * connections, or a client's, of its connection) lets the reader call in progress finish. It
 * records the reason and the deadline, then marks the input finishing
 * ({@link ConnectionInput#finish()}), which tells it, atomically, whether the reader rests — waits
 * between requests, blocked or suspended:
 * <pre>
 *   rests       → {@link #shutdown}: the sender's close-after-flush at once, on the shutdown's thread;
 *                 the reader, woken by the close (or by input, which it does not read), ends
 *   not resting → the reader finishes its call (puts are taken meanwhile, from any thread), its
 *                 loop begins no other, and its end flushes by the shutdown's deadline
 *                 ({@link #flushOrDiscard}); the shutdown's thread waits for the exit
 * </pre>
 * Either way a reader call that had consumed input when the shutdown looked runs to its return,
 * and none begins after; at the deadline the server or the client ends what remains
 * ({@link #exit}).
 */
public final class RealConnectionRunner implements ConnectionRunner, Thread.UncaughtExceptionHandler {
    private static final Duration DEFAULT_FLUSH_TIMEOUT = Duration.ofSeconds(5);
    /** How long the send loop may take to notice that its sender was closed, before and after an interrupt. */
    private static final Duration SEND_THREAD_GRACE = Duration.ofSeconds(1);
    /**
     * How long the end waits for closes on other threads to count what they discarded: longer than
     * a queue sender's wait for a write that a close made fail (1 s). Only a sender whose close
     * blocks takes longer; what it discarded then misses the exit line.
     */
    private static final Duration CLOSES_GRACE = Duration.ofSeconds(2);
    private static final VarHandle CLOSING = Fields.handle(MethodHandles.lookup(), "closing", int.class);
    private static final VarHandle DISCARDED_IN_ALL = Fields.handle(MethodHandles.lookup(), "discardedInAll", int.class);

    private final RealConnection connection;
    private final ReadLoop loop;
    private final SenderFactory factory;
    private final Consumer<RealConnectionRunner> onExited;
    // Guarded by this until start(); the reader threads, started after, only read them. The monitor
    // (here, and for exited/exitWaiters) is never held across a wait, so it pins no virtual thread.
    private List<ConnectionHook> startHooks = List.of();
    private List<ConnectionHook> exitHooks = List.of();
    private String startHooksName = "start"; // their name in conn.hook.failed: see hookNames
    private String exitHooksName = "exit";
    private RealConnectionRegistry registry; // the one the connection is a member of (registerIn), or null
    private boolean started;
    private volatile boolean exited;
    private CountDownLatch exitWaiters; // made by the first awaitExit() before the exit; guarded by this
    private volatile Sender sender;
    private Thread sendThread;            // set by the first reader thread, joined by the last
    private Throwable startFailure;       // reader thread: set by a start hook (failStart), read after them
    private volatile int discardedInAll; // by every close of the sender, on any thread: see discardedInAll()
    private volatile int closing;           // exit() and shutdown() calls closing the sender, not yet counted
    private volatile Thread awaitingCloses; // the end's thread while it waits for them
    private volatile long finishDeadline;   // a graceful shutdown's (nanoTime, 0 = none), set before finish()
    private volatile boolean flushFailed;   // the end's close-after-flush threw

    /**
     * A runner whose sender is made by {@code factory} on the reader thread.
     *
     * @param onExited runs last, after the exit hooks, even if the factory failed; given this runner
     *     (one callback for all of a server's runners, instead of one per connection)
     */
    RealConnectionRunner(RealConnection connection, ConnectionReader reader, SenderFactory factory,
                         Consumer<RealConnectionRunner> onExited) {
        this.connection = Objects.requireNonNull(connection, "connection");
        this.loop = new ReadLoop(connection, Objects.requireNonNull(reader, "reader"), this);
        this.factory = Objects.requireNonNull(factory, "factory");
        this.onExited = Objects.requireNonNull(onExited, "onExited");
    }

    /**
     * A runner for {@code connection} whose sender {@code factory} makes on the connection's
     * thread, as a server's are; for stcp's other modules (the test kit).
     */
    public static RealConnectionRunner of(RealConnection connection, ConnectionReader reader, SenderFactory factory,
                                          Runnable onExited) {
        Objects.requireNonNull(onExited, "onExited");
        return new RealConnectionRunner(connection, reader, factory, runner -> onExited.run());
    }

    /**
     * A runner for {@code sender}'s connection.
     *
     * @throws IllegalArgumentException if the sender's connection was not made by stcp
     */
    public static RealConnectionRunner forSender(ConnectionReader reader, Sender sender) {
        Objects.requireNonNull(sender, "sender");
        RealConnectionRunner runner = new RealConnectionRunner(stcpConnection(sender.connection()), reader,
                c -> sender, exited -> {});
        runner.sender = sender;
        return runner;
    }

    /** The stcp connection behind {@code connection}, the only kind a runner can run. */
    private static RealConnection stcpConnection(Connection connection) {
        if (connection instanceof RealConnection real) {
            return real;
        }
        throw new IllegalArgumentException("sender.connection(): a " + connection.getClass().getName()
                + " (expected: one made by stcp, e.g. Connection.of(channel))");
    }

    /**
     * Makes the connection a member of {@code registry} for its life, as a server given one does
     * with each of its connections: it is added just before the start hooks added after this call
     * (so they can bind it) and removed, with every binding, just after its exit hooks, before
     * {@link #isExited()} and the exit callback. Before {@link #start()}, once.
     *
     * @throws IllegalStateException if started already, or given a registry already
     */
    public synchronized void registerIn(RealConnectionRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        if (this.registry != null) {
            throw new IllegalStateException("the connection is a member of a registry already");
        }
        addStartHook(registry::add); // throws if started
        this.registry = registry;
    }

    @Override
    public synchronized ConnectionRunner addStartHook(ConnectionHook hook) {
        startHooks = withHook(startHooks, hook);
        return this;
    }

    @Override
    public synchronized ConnectionRunner addExitHook(ConnectionHook hook) {
        exitHooks = withHook(exitHooks, hook);
        return this;
    }

    /**
     * Names the start and exit hooks in {@code conn.hook.failed}'s {@code hook} key as the API that
     * adds them does: a server's are {@code start} and {@code exit} (its {@code onConnectionStart}
     * and {@code onConnectionExit}), a client's {@code connect} and {@code disconnect}. Before
     * {@link #start()}.
     *
     * @throws IllegalStateException if started already
     */
    synchronized void hookNames(String start, String exit) {
        if (started) {
            throw new IllegalStateException("hooks must be named before start()");
        }
        startHooksName = Objects.requireNonNull(start, "start");
        exitHooksName = Objects.requireNonNull(exit, "exit");
    }

    /** {@code hooks} and {@code hook} after them (the lists are immutable: few, and only read once started). */
    private List<ConnectionHook> withHook(List<ConnectionHook> hooks, ConnectionHook hook) {
        Objects.requireNonNull(hook, "hook");
        if (started) {
            throw new IllegalStateException("hooks must be added before start()");
        }
        List<ConnectionHook> more = new ArrayList<>(hooks.size() + 1);
        more.addAll(hooks);
        more.add(hook);
        return List.copyOf(more);
    }

    @Override
    public void start() {
        synchronized (this) {
            if (started) {
                return;
            }
            connection.runnerReads(true); // from here on only its reader thread reads it; throws if another thread does
            started = true;
        }
        Threads.start(threadName(), this::run, this);
    }

    /**
     * What escapes one of this connection's reader threads (a bug): logged and counted as for any
     * stcp thread. The reader threads are started with this runner as their handler, so a thread
     * can tell which connection it reads for ({@link OwingReader}) without a thread-local.
     */
    @Override
    public void uncaughtException(Thread t, Throwable e) {
        Threads.HANDLER.uncaughtException(t, e);
    }

    @Override
    public void exit() {
        exit(CloseReason.CLOSED);
    }

    /**
     * Ends the connection at once for {@code reason} (unless it has one already, or a graceful close
     * runs: that close's reason, see {@link ConnectionClose#recordOutsideEnd}); see {@link #exit()}.
     */
    void exit(CloseReason reason) {
        loop.requestExit();
        CloseReason inForce = connection.recordOutsideEnd(reason);
        Sender s = sender;
        if (s != null) {
            enterClose();
            try {
                counted(Ends.closeSender(s, connection));
            } finally {
                leaveClose();
            }
        }
        connection.close(inForce);
        loop.interruptReader();
    }

    /**
     * Ends the connection gracefully at once, as a graceful shutdown does a connection that rests
     * (or has no sender yet): its sender writes what is queued and the connection closes, within
     * {@code timeout}.
     *
     * @return how many queued messages were discarded, or -1 if the sender failed
     */
    int shutdown(Duration timeout) {
        connection.recordOutsideEnd(CloseReason.SHUTDOWN);
        Sender s = sender;
        if (s == null) {
            exit(CloseReason.SHUTDOWN);
            return 0;
        }
        enterClose();
        try {
            return counted(s.closeAfterFlush(timeout));
        } catch (Throwable t) {
            Log.connWarn("conn.sender.failed", connection).addKeyValue("op", "closeAfterFlush").setCause(t).log();
            exit(CloseReason.SHUTDOWN);
            return -1;
        } finally {
            leaveClose();
        }
    }

    /**
     * Ends the connection gracefully for a server's or a client's shutdown, by {@code deadline}
     * ({@code nanoTime}, 0 = none): a reader call in progress is let finish — its puts, and other
     * threads' puts to the sender, are taken until it returns — then no call begins, the sender
     * writes what is queued and the connection closes. A connection whose reader waits between
     * requests (or has no sender yet) is shut down at once, as {@link #shutdown} does. Blocks until
     * the connection has exited, or the deadline (then the caller ends it: {@link #exit}). See the
     * class comment.
     *
     * <p>A connection that had ended for a reason of its own before (its end recorded: reset,
     * closed, a timeout...), or whose graceful close had begun (its end is that close's), is only
     * waited for: what it discarded, it discarded before the shutdown reached it, which the
     * shutdown does not answer for (a {@link io.stcp.QueueSender}'s count is in the server's stats,
     * which the shutdown compares before and after).
     *
     * @return how many queued messages were discarded, or -1 if the sender failed (or this thread
     *     was interrupted, which leaves it unknown)
     */
    int finishAndShutdown(long deadline) {
        if (sender == null) {
            return shutdown(Nanos.remaining(deadline)); // no reader call yet: ends at once
        }
        finishDeadline = deadline;
        boolean ownEnd = connection.recordOutsideEnd(CloseReason.SHUTDOWN) != CloseReason.SHUTDOWN;
        if (!ownEnd && connection.input().finish()) {
            return shutdown(Nanos.remaining(deadline));
        }
        try {
            if (!awaitExit(Nanos.remaining(deadline))) {
                return 0; // the caller ends it now, and counts what that discards
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
        return ownEnd ? 0 : flushFailed ? -1 : discardedInAll;
    }

    /** A close of the sender, off the end, begins: the end waits until it has counted (see the class comment). */
    private void enterClose() {
        CLOSING.getAndAdd(this, 1);
    }

    /** That close has counted what it was told; the last one wakes the end if it waits. */
    private void leaveClose() {
        if ((int) CLOSING.getAndAdd(this, -1) == 1) {
            Thread t = awaitingCloses;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    /** Counts {@code n} messages a close of the sender was told it discarded (on any thread); returns it. */
    private int counted(int n) {
        if (n > 0) {
            DISCARDED_IN_ALL.getAndAdd(this, n);
        }
        return n;
    }

    /**
     * The messages the sender discarded, as told to every close of it so far, on any thread (two
     * may close it at once, and either may be the one that discards): whole once the connection
     * has exited, for every {@link #exit} and {@link #shutdown} call begun before its end (unless
     * a sender's close took longer than {@link #CLOSES_GRACE}: see the class comment).
     */
    int discardedInAll() {
        return discardedInAll;
    }

    @Override
    public Sender sender() {
        return sender;
    }

    @Override
    public Connection connection() {
        return connection;
    }

    RealConnection realConnection() {
        return connection;
    }

    /** Reader calls that returned; any thread (a monitoring read, possibly a moment behind). */
    long readerCalls() {
        return loop.readerCalls();
    }

    @Override
    public boolean isExited() {
        return exited;
    }

    @Override
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        CountDownLatch latch;
        synchronized (this) {
            if (exited) {
                return true;
            }
            if (exitWaiters == null) {
                exitWaiters = new CountDownLatch(1);
            }
            latch = exitWaiters;
        }
        return latch.await(Nanos.clamp(timeout), TimeUnit.NANOSECONDS);
    }

    // ---------------------------------------------------------------- reader thread

    /** The first reader thread: the sender, the start hooks, then the read loop. */
    private void run() {
        loop.enter();
        Sender s = sender;
        Throwable failure = null;
        try {
            // An exit before this thread entered the loop could not interrupt it: no user code runs
            // then, the sender factory included, which may wait for something the exit took away.
            // A later exit finds this thread in the loop and interrupts it.
            if (s == null && !loop.exitRequested()) {
                connection.openLayers();
                s = createSender();
                sender = s;
                if (loop.exitRequested()) {
                    Ends.closeSender(s, connection);
                }
            }
            if (s != null) {
                runStartHooks(s);
                failure = startFailure; // the end is a reader's that threw it: see failStart
                if (comesUp()) {
                    // It comes up: one that never does (a client's connect hook failed, a close
                    // during the hooks) has its conn.exit only, as one whose handshake failed.
                    Log.conn(Level.DEBUG, "conn.start", connection).log();
                    JfrEvents.connectionStart(connection);
                    if (s.needsSendThread()) {
                        Sender loopSender = s;
                        sendThread = Threads.start("stcp-conn-" + connection.id() + "-send", () -> sendLoop(loopSender));
                    }
                    if (loop.run(s)) {
                        return; // suspended: a later thread goes on (resume)
                    }
                }
            }
        } catch (Throwable t) {
            failure = t;
        }
        end(s, failure);
    }

    /**
     * Called by a start hook, on the reader thread: once the start hooks have run, the connection
     * ends as though its reader had thrown {@code failure} — no reader call, no send thread; its
     * reason is {@code failure}'s, and what is queued is written first if that reason
     * {@linkplain CloseReason#flushes() flushes} (a hook's last word, a TLS close_notify), else
     * discarded. A client's connect hook that throws ends so.
     */
    void failStart(Throwable failure) {
        startFailure = failure;
    }

    /**
     * Whether the connection comes up once its start hooks have run: no start hook failed it
     * ({@link #failStart}) and no exit was asked for (a close, the client's or the server's). One
     * that does not has no {@code conn.start} and no reader call. Reader thread (a start hook's).
     */
    boolean comesUp() {
        return startFailure == null && !loop.exitRequested();
    }

    /**
     * Whether the calling thread runs this connection: its reader, or one of its start or exit
     * hooks (a wait there for the connection's exit would wait for itself). For the shutdowns'
     * check ({@link OwnThread}); not on a message's path.
     */
    boolean isOwnThread() {
        return loop.isOwnThread();
    }

    /** The name of the connection's reader threads (made per thread: an idle connection keeps no string). */
    String threadName() {
        return "stcp-conn-" + connection.id();
    }

    /** A reader thread after a suspension: the read loop again, where it left off. */
    void resume() {
        loop.enter();
        connection.input().resumed(true);
        Throwable failure = null;
        try {
            if (loop.run(sender)) {
                return; // suspended again
            }
        } catch (Throwable t) {
            failure = t;
        }
        end(sender, failure);
    }

    /**
     * The end, on the last reader thread: the reason is decided, replies are flushed or discarded,
     * the send thread is joined, the closes on other threads are waited for, the exit line is
     * logged, the exit hooks run, the slot is freed.
     */
    private void end(Sender s, Throwable failure) {
        try {
            loop.leave();
            CloseReason own = Ends.classify(failure);
            if (own.isFailure()) {
                // The reader's own failure (a protocol error, a bug) is known before a graceful close
                // under way on another thread ends, which records CLOSED only then: it is the reason,
                // logged with its cause, not dropped for the close's.
                connection.recordEnd(own, failure);
            }
            // A graceful close on another thread ended this reader's input: the linger's reading is
            // this thread's now, and that close writes the replies (and decides the reason, unless
            // the reader failed of its own accord).
            connection.awaitGracefulClose();
            CloseReason reason = connection.recordEnd(own, failure);
            Throwable cause = connection.closeCause();
            if (s == null) {
                connection.close(reason);
            } else {
                counted(flushOrDiscard(s, reason));
            }
            connection.readerThread(null);
            connection.runnerReads(false);
            joinSendThread(sendThread);
            connection.input().ended();
            awaitCloses();
            int discarded = discardedInAll; // this thread's close's, and every other close's begun before
            if (!connection.healthCheck) {
                connection.context().exitLog().exit(connection, reason, cause, discarded);
                JfrEvents.connectionExit(connection, reason, cause, discarded);
            }
            if (s != null) {
                runHooks(exitHooks, exitHooksName, false, s);
            }
        } finally {
            finish();
        }
    }

    private Sender createSender() throws Exception {
        Sender s = factory.create(connection);
        if (s == null) {
            throw new IllegalStateException("sender factory returned null");
        }
        return s;
    }

    /**
     * Flushes (on this thread, which reads and drops the peer's input meanwhile) or discards what
     * the sender holds, as {@code reason} says; closes the connection either way.
     *
     * @return the messages discarded
     */
    private int flushOrDiscard(Sender s, CloseReason reason) {
        try {
            payOwedDrain();
            if (reason.flushes() && connection.isOpen()) {
                try {
                    return s.closeAfterFlush(flushTimeout());
                } catch (Throwable t) {
                    flushFailed = true;
                    Log.connWarn("conn.sender.failed", connection).addKeyValue("op", "closeAfterFlush")
                            .setCause(t).log();
                }
            }
            return Ends.closeSender(s, connection);
        } finally {
            connection.close(reason);
            Thread.interrupted();
        }
    }

    /** How long the end's flush may take: until a shutdown's deadline, else the write timeout (or 5 s). */
    private Duration flushTimeout() {
        if (connection.input().isFinishing()) {
            return Nanos.remaining(finishDeadline);
        }
        return connection.writeTimeout().isZero() ? DEFAULT_FLUSH_TIMEOUT : connection.writeTimeout();
    }

    /**
     * Writes the replies the reader owes its sender, if any (or, the connection closed, counts them
     * discarded), before the close: a close elsewhere, the server's stop say, waits for the write
     * token held for them, whether this one flushes or not.
     */
    private void payOwedDrain() {
        try {
            connection.input().payOwedDrain();
        } catch (RuntimeException e) {
            // no send thread could be started for what was queued meanwhile: the sender discarded it
        }
    }

    /**
     * Waits for the send thread. The sender is closed by now, so its loop should end at once; a
     * custom sender whose loop ignores the close is interrupted after {@link #SEND_THREAD_GRACE}
     * and, if it still runs after another, left behind with a WARN line, so the exit hooks run anyway.
     */
    private void joinSendThread(Thread t) {
        if (t == null) {
            return;
        }
        if (!Threads.joinOrLeave(t, SEND_THREAD_GRACE)) {
            Log.connWarn("conn.send.stuck", connection).addKeyValue("thread", t.getName()).log();
        }
        Thread.interrupted(); // not for us: the exit hooks run after the send loop all the same
    }

    /**
     * Waits, at most {@link #CLOSES_GRACE}, until the closes of the sender under way on other
     * threads have counted what they were told. The connection is closed by now, so they end soon.
     * An interrupt meanwhile is not for this wait (as in {@link #joinSendThread}): cleared.
     */
    private void awaitCloses() {
        if (closing == 0) {
            return;
        }
        awaitingCloses = Thread.currentThread();
        long deadline = System.nanoTime() + CLOSES_GRACE.toNanos();
        try {
            while (closing > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                LockSupport.parkNanos(this, left);
                Thread.interrupted();
            }
        } finally {
            awaitingCloses = null;
        }
    }

    /**
     * The start hooks, on the reader thread. Their waits for input are the shutdown's to see as a
     * reader call's are ({@link ConnectionInput#beginStartHooks}): one that has consumed nothing
     * rests, so a graceful shutdown closes the connection under a hook waiting for the peer (a
     * client's login waiting for an answer that never comes) instead of waiting for it until the
     * deadline.
     */
    private void runStartHooks(Sender s) {
        ConnectionInput input = connection.input();
        input.beginStartHooks();
        try {
            runHooks(startHooks, startHooksName, true, s);
        } finally {
            input.endStartHooks();
        }
        input.giveUp(); // a large value a start hook read, as a reader's call gives it up
    }

    private void runHooks(List<ConnectionHook> hooks, String kind, boolean start, Sender s) {
        for (ConnectionHook hook : hooks) {
            try {
                hook.onEvent(s);
            } catch (Throwable t) {
                hookFailed(start, kind, t);
            }
        }
    }

    /**
     * Logs a hook's failure: at WARN, unless a start hook threw what a close causes (a closed
     * channel, an interrupt, a closed sender; a reset, a timeout: no failure by
     * {@link Ends#classify}) once the connection was closed (CLOSED or SHUTDOWN recorded: a close
     * or shutdown of the server's, the client's or the application's, while it waited for the
     * peer, say) — then its failure is that close's doing, not the application's, and is logged at
     * DEBUG, as a reader's that a close ends is (its {@code conn.exit} at DEBUG). A failure of the
     * hook's own (a refused login, a bug) stays a WARN, close or not, as a reader's own failure is
     * the reason however a close under way ends: a graceful shutdown records SHUTDOWN as it
     * begins, then lets a hook that has read part of its answer finish. An exit hook runs after
     * the close, always: its failures are its own.
     */
    private void hookFailed(boolean start, String kind, Throwable t) {
        CloseReason closed = connection.closeReason();
        boolean ours = start && (closed == CloseReason.CLOSED || closed == CloseReason.SHUTDOWN)
                && !Ends.classify(t).isFailure();
        (ours ? Log.conn(Level.DEBUG, "conn.hook.failed", connection) : Log.connWarn("conn.hook.failed", connection))
                .addKeyValue("hook", kind).setCause(t).log();
    }

    private void finish() {
        if (registry != null) {
            try {
                registry.remove(connection.id()); // after the exit hooks, which still see the connection's bindings
            } catch (Throwable t) {
                Log.connWarn("conn.exit.callback.failed", connection).setCause(t).log();
            }
        }
        synchronized (this) {
            exited = true;
            if (exitWaiters != null) {
                exitWaiters.countDown();
            }
        }
        try {
            onExited.accept(this);
        } catch (Throwable t) {
            Log.connWarn("conn.exit.callback.failed", connection).setCause(t).log();
        }
    }

    // ---------------------------------------------------------------- send thread

    /**
     * Runs the sender's loop. Returning means the loop is done (a sender that writes on the
     * caller's thread may return at once): the connection lives on until it is closed. Throwing
     * ends the connection, for the reason the failure shows.
     */
    private void sendLoop(Sender s) {
        try {
            s.sendLoop();
        } catch (Throwable t) {
            exit(connection.recordEnd(Ends.classifySend(t), t));
        }
    }
}
