package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.NotConnectedException;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpClient;
import java.net.ConnectException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The {@link TcpClient} implementation.
 *
 * <p><b>Threads.</b> One dialler thread (virtual, {@code stcp-client-ADDRESS}) runs the
 * {@link DialLoop}: dial, run the connection, wait for its exit, back off, again. Puts go through
 * the {@link Outbox}, which the connection that is up joins.
 *
 * <p><b>States</b> ({@link #state}, written under {@link #lock}, volatile for the
 * not-connected message): NEW → RUNNING → CLOSED, or NEW → CLOSED. Every move to CLOSED, but
 * that of a {@link #start()} that could not start the dialler, is {@link #stop}'s, under the
 * lock, and sets {@link #ended} with it: null for a close or a shutdown, the
 * {@link ConnectException} when the dial loop gives up, the throwable when it failed (a bug, out
 * of memory: nobody would dial any more, so the client must not stay RUNNING).
 * The dial loop asks for its changes through the methods of "the dial loop's side" below, each
 * taking the lock.
 *
 * <p><b>Closing.</b> {@link #close()} moves to CLOSED under the lock, then ends the current
 * runner (if any) and interrupts the dialler, which ends whatever it waits in — a back-off sleep,
 * a connect — and, if it runs a connection, waits for that connection's exit (uninterruptibly:
 * the close has ended it) before completing {@link #termination}. A runner is stored only under
 * the lock while RUNNING or draining, so close always sees the connection it must end. A close
 * that finds the client CLOSED already ends that connection all the same ({@link #endCurrent}): a
 * shutdown may be draining the offline backlog or flushing the connection, and a close waits for
 * neither.
 *
 * <p><b>Shutting down</b> is a server's graceful shutdown of one connection
 * ({@link RealConnectionRunner#finishAndShutdown}), on the shutdown's thread: a reader call in
 * progress runs to its return and its puts are taken, then the connection writes its queue and
 * closes; a reader that waits between messages is shut down at once. The thread waits for the
 * connection's exit until the deadline, then for termination; at the deadline it ends the
 * connection ({@link RealConnectionRunner#exit}). The outbox is shut first, by {@link #stop}: the
 * client's own puts fail from then on, while those to the connection's sender are taken until the
 * call returns.
 *
 * <p><b>The drain.</b> If the outbox holds a backlog then — kept offline, or being handed over
 * ({@link Outbox#shutDown}) — the shutdown first lets it go out, until the deadline
 * ({@link Outbox#awaitDelivered}): {@link #draining} is set with CLOSED, and while it is the dial
 * loop goes on as while RUNNING ({@link #isRunning}, {@link #attach}: back-off, dial, run the
 * connection that comes up, which takes the backlog; one that ends puts back what it had not taken).
 * The drain ends, once, under the lock ({@link #endDrain}), by the shutdown when the backlog is
 * delivered or at the deadline, by a {@link #close()}, or by the dialler's end (it gave up or
 * failed); then no connection attaches any more, the outbox closes, discarding (and counting) what
 * is left, the dialler is woken, and the connection attached then ({@link #drainedTo}), if any, is
 * the one the shutdown shuts down. What the connections that ended during the drain discarded is
 * counted as they detach ({@link #drainLost}).
 *
 * <p><b>What a close discarded.</b> Whoever moved the client to CLOSED (the one {@link #stop}
 * answered) completes {@link #closeDone} once it has ended the connection, with that connection's
 * runner (after a drain, the one attached at its end, and what those before it discarded). The
 * runner counts every message its sender discarded, whichever thread's close did it (the
 * closer's — a close during a shutdown's flush included —, the shutdown's, or the reader's own
 * at its end: they may close the sender at once), and the count is whole once the connection has
 * exited: its end waits for the closes under way on other threads to count, and a close begun
 * after it finds nothing left to report. With what the offline queue
 * lost ({@link Outbox#lostByClose()}, complete at termination), that is what a shutdown
 * reports on; a shutdown that finds the client closed already waits for termination and
 * {@link #closeDone}, so it cannot report as written what a close before it discarded.
 */
public final class RealTcpClient implements TcpClient {
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);

    private final ClientConfig config;
    private final Outbox outbox;
    private final DialLoop dialLoop;

    private final ReentrantLock lock = new ReentrantLock();
    private volatile int state = NEW;                          // written under lock
    private volatile int failures;                             // written under lock: failed attempts in a row
    private volatile @Nullable Throwable ended;                 // written under lock, by stop: why it ended by itself
    private @Nullable Thread dialler;                          // guarded by lock
    private @Nullable RealConnectionRunner runner;             // guarded by lock
    private boolean draining;                                  // guarded by lock: see the class comment
    private @Nullable RealConnectionRunner drainedTo;          // guarded by lock: attached when the drain ended
    private int drainLost;                                     // guarded by lock: discarded by those that ended during it
    private final CompletableFuture<Void> termination = new CompletableFuture<>();
    private final CompletableFuture<Closed> closeDone = new CompletableFuture<>(); // see the class comment

    public RealTcpClient(ClientConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        this(config, reader, senderFactory, Dialer.Resolver.DNS, AcceptLoop.Sleeper.REAL,
                () -> ThreadLocalRandom.current().nextDouble(), TlsLayer.forClient(config));
    }

    /**
     * A client with seams.
     *
     * @param resolver resolves the host on every attempt
     * @param sleeper sleeps the back-off waits; must throw InterruptedException when interrupted
     * @param random values in [0, 1) for the jitter
     * @param layers opened over every dialled socket, in order: where TLS plugs in
     */
    RealTcpClient(ClientConfig config, ConnectionReader reader, SenderFactory senderFactory, Dialer.Resolver resolver,
                  AcceptLoop.Sleeper sleeper, DoubleSupplier random, List<TransportLayer> layers) {
        this.config = Objects.requireNonNull(config, "config");
        this.outbox = new Outbox(config.offlineCapacity() == 0 ? null
                : new OfflineQueue(config.offlineCapacity(), config.offlineMaxBytes()), this::notConnected, config.address());
        this.dialLoop = new DialLoop(this, config, Objects.requireNonNull(reader, "reader"),
                Objects.requireNonNull(senderFactory, "senderFactory"), resolver, sleeper, random, layers, outbox);
    }

    @Override
    public TcpClient onConnect(@Nullable ConnectionHook hook) {
        dialLoop.onConnect(hook);
        return this;
    }

    @Override
    public TcpClient onDisconnect(@Nullable DisconnectHook hook) {
        dialLoop.onDisconnect(hook);
        return this;
    }

    @Override
    public TcpClient onGiveUp(@Nullable GiveUpHook hook) {
        dialLoop.onGiveUp(hook);
        return this;
    }

    @Override
    public TcpClient start() {
        Log.requireSlf4j2(); // before anything is dialled: every line logged needs SLF4J 2
        JfrEvents.register(); // before the first connection, which would wait for it
        lock.lock();
        try {
            if (state != NEW) {
                throw new IllegalStateException(state == RUNNING ? "client already started" : "client closed");
            }
            state = RUNNING; // before the dialler starts: it runs while RUNNING
            outbox.open();
            try {
                dialler = Threads.start("stcp-client-" + config.address(), dialLoop::run);
            } catch (RuntimeException | Error e) {
                state = CLOSED;
                outbox.close();
                closeDone.complete(Closed.NOTHING);
                termination.complete(null);
                throw e;
            }
        } finally {
            lock.unlock();
        }
        return this;
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

    /** The connection kept by {@link #attach} has exited: during a drain, what it discarded is whole now, and counted. */
    void detach() {
        lock.lock();
        try {
            if (draining && runner != null) {
                drainLost += runner.discardedInAll();
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
        Stopped s = stop(why);
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
        logDiscarded(outbox.close()); // closed already (nothing to discard), unless it ended a drain
        Throwable failure = ended;
        if (failure == null) {
            termination.complete(null);
        } else {
            termination.completeExceptionally(failure);
        }
    }

    // ---------------------------------------------------------------- sending (any thread)

    @Override
    public boolean isConnected() {
        return outbox.up() != null;
    }

    @Override
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        return outbox.awaitUp(timeout);
    }

    @Override
    public Sender sender() {
        Sender s = outbox.up();
        if (s == null) {
            throw notConnected();
        }
        return s;
    }

    @Override
    public void put(byte[] bytes) {
        outbox.send(null, Objects.requireNonNull(bytes, "bytes"));
    }

    @Override
    public void put(int key, byte[] bytes) {
        outbox.send(key, Objects.requireNonNull(bytes, "bytes"));
    }

    @Override
    public void put(String key, byte[] bytes) {
        outbox.send(Objects.requireNonNull(key, "key"), Objects.requireNonNull(bytes, "bytes"));
    }

    /** Reads volatile state only: called by the outbox under its own lock. */
    private NotConnectedException notConnected() {
        int f = failures;
        Throwable e = ended;
        String why = switch (state) {
            case NEW -> "not started";
            case RUNNING -> f == 0 ? "connecting" : "reconnecting after " + f + (f == 1 ? " failed attempt" : " failed attempts");
            default -> e == null ? "client closed" : e instanceof ConnectException ? e.getMessage() : "client failed: " + e;
        };
        return new NotConnectedException("not connected to " + config.address() + ": " + why);
    }

    @Override
    public long connectCount() {
        return dialLoop.connectCount();
    }

    @Override
    public long offlineDropped() {
        return outbox.dropped();
    }

    // ---------------------------------------------------------------- closing

    /** What {@link #stop} found: the connection to end and the thread to wake; whether a drain began. */
    private record Stopped(boolean wasNew, @Nullable RealConnectionRunner runner, @Nullable Thread dialler,
                           boolean draining) {}

    /** Moves to CLOSED, ended by {@code why} (null: closed by the user); null if it was closed already. */
    private @Nullable Stopped stop(@Nullable Throwable why) {
        return stop(why, false);
    }

    /**
     * As {@link #stop(Throwable)}; {@code graceful} for a shutdown, which drains the offline
     * backlog if there is one ({@link Outbox#shutDown}, {@link #draining}).
     */
    private @Nullable Stopped stop(@Nullable Throwable why, boolean graceful) {
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
                    logDiscarded(outbox.close());
                }
            } catch (Throwable t) { // out of memory: the close goes no further, but no shutdown may wait for it
                closeDone.complete(new Closed(runner, true, 0));
                throw t;
            }
            return new Stopped(wasNew, runner, dialler, draining);
        } finally {
            lock.unlock();
        }
    }

    private void logDiscarded(int discarded) {
        if (discarded > 0) {
            Log.CLIENT.atDebug().setMessage("client.offline.discarded").addKeyValue("address", config.address())
                    .addKeyValue("discarded", discarded).log();
        }
    }

    @Override
    public void close() {
        Stopped s = stop(null);
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
     * the connection, if any: a shutdown flushing it ({@link #shutdown}) is cut short, the rest of
     * its queue discarded and counted (in its runner, which the shutdown reports on). Ending a
     * connection a close ended already changes nothing.
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
        logDiscarded(outbox.close()); // before the connection's end, so that a hand-over it stops discards its rest
        if (r != null) {
            r.exit(CloseReason.CLOSED);
        }
        if (d != null && d != Thread.currentThread()) {
            d.interrupt();
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
     * What the close that moved the client to CLOSED ended: its connection, if any, whether its
     * sender failed to close, and what the connections that ended during its drain discarded.
     */
    private record Closed(@Nullable RealConnectionRunner runner, boolean senderFailed, int lostBefore) {
        static final Closed NOTHING = new Closed(null, false, 0);

        /** Messages lost: those the connections' senders discarded (whole once it has exited), or 1 for a failed sender. */
        int lost() {
            return (senderFailed ? 1 : 0) + lostBefore + (runner == null ? 0 : runner.discardedInAll());
        }
    }

    /** Ends the connection of a close at once, then says the close is done ({@link #closeDone}), whatever happens. */
    private void endConnection(Stopped s) {
        boolean ended = false;
        try {
            if (s.runner != null) {
                s.runner.exit(CloseReason.CLOSED);
            }
            ended = true;
        } finally {
            closeDone.complete(new Closed(s.runner, !ended, 0)); // a shutdown waiting for it must not wait for ever
        }
    }

    private void wake(Stopped s) {
        if (s.wasNew) {
            termination.complete(null);
        } else if (s.dialler != null && s.dialler != Thread.currentThread()) {
            s.dialler.interrupt();
        }
    }

    @Override
    public boolean shutdown(Duration grace) throws InterruptedException {
        OwnThread.refuseWait(isOwnThread(), "client", "shutdown(grace)");
        long deadline = Nanos.within(grace);
        Stopped s = stop(null, true);
        if (s == null) {
            // Closed already: by a close, another shutdown, giving up or a failure. The same end,
            // once whoever closed it has counted what its connection discarded.
            boolean done = awaitQuietly(termination, deadline) && awaitQuietly(closeDone, deadline);
            return done && !termination.isCompletedExceptionally() && closeDone.join().lost() + outbox.lostByClose() == 0;
        }
        RealConnectionRunner r = s.runner;
        Closed closed = new Closed(r, true, 0);
        try {
            int lostBefore = 0;
            if (s.draining) {
                // The offline backlog goes out first: on the connection being handed it, or on the
                // next the dialler makes, dialling on as before (its reader reads the replies);
                // what is not handed on by the deadline (or a close) is discarded, counted.
                outbox.awaitDelivered(deadline);
                lock.lock();
                try {
                    endDrain();
                    r = drainedTo;
                    lostBefore = drainLost;
                } finally {
                    lock.unlock();
                }
                logDiscarded(outbox.close());
            }
            wake(s); // the dialler stops dialling or sleeping; if it runs a connection, it waits for its exit
            closed = new Closed(r, true, lostBefore);
            // the call in progress finished and the queue flushed, cut short, or the deadline (-1: the sender failed)
            closed = new Closed(r, r != null && r.finishAndShutdown(deadline) < 0, lostBefore);
        } finally {
            closeDone.complete(closed); // a shutdown waiting for it must not wait for ever
        }
        boolean done = awaitQuietly(termination, deadline);
        if (!done) {
            if (r != null) {
                r.exit(CloseReason.SHUTDOWN);
            }
            awaitQuietly(termination, Nanos.within(EXIT_AFTER_FORCE_CLOSE));
        }
        // Terminated: the last connection has exited, so its count is whole, and a hand-over of the
        // offline queue that the close cut short has counted what it had not given its sender.
        return done && closed.lost() + outbox.lostByClose() == 0;
    }

    /**
     * Whether the calling thread is the client's own: its connection's reader or a hook on that
     * thread (the connect and disconnect hooks), or the dialler (the give-up hook), whose end a
     * shutdown waits for.
     */
    private boolean isOwnThread() {
        lock.lock();
        try {
            return dialler == Thread.currentThread() || runner != null && runner.isOwnThread();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for {@code f} until {@code deadline} (0 = none), however it completes; false on timeout. */
    private static boolean awaitQuietly(CompletableFuture<?> f, long deadline) throws InterruptedException {
        try {
            if (deadline == 0) {
                f.get();
            } else {
                f.get(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true; // gave up: terminated all the same
        }
    }

    @Override
    public CompletableFuture<Void> termination() {
        return termination.copy();
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        OwnThread.refuseWait(isOwnThread(), "client", "awaitTermination(timeout)");
        return awaitQuietly(termination, Nanos.within(timeout));
    }

    @Override
    public String toString() {
        return "TcpClient[" + config.address() + "]";
    }
}
