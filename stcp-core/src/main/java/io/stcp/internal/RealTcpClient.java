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
 * the lock while RUNNING, so close always sees the connection it must end. A close that finds
 * the client CLOSED already ends that connection all the same ({@link #endCurrent}): a shutdown
 * may be flushing it, and a close does not wait for a flush.
 *
 * <p><b>Shutting down</b> is a server's graceful shutdown of one connection
 * ({@link RealConnectionRunner#finishAndShutdown}), on the shutdown's thread: a reader call in
 * progress runs to its return and its puts are taken, then the connection writes its queue and
 * closes; a reader that waits between messages is shut down at once. The thread waits for the
 * connection's exit until the deadline, then for termination; at the deadline it ends the
 * connection ({@link RealConnectionRunner#exit}). The outbox is shut first, by {@link #stop}: the
 * client's own puts fail from then on, while those to the connection's sender are taken until the
 * call returns. Before it, a hand-over of the offline queue under way is let finish, until the
 * deadline ({@link Outbox#awaitHandOvers}), the connection running meanwhile as before; then the
 * outbox closes, discarding (and counting) what is left.
 *
 * <p><b>What a close discarded.</b> Whoever moved the client to CLOSED (the one {@link #stop}
 * answered) completes {@link #closeDone} once it has ended the connection, with that connection's
 * runner. The runner counts every message its sender discarded, whichever thread's close did it
 * (the closer's — a close during a shutdown's flush included —, the shutdown's, or the reader's own
 * at its end: they may close the sender at once), and the count is whole once the connection has
 * exited: its end waits for the closes under way on other threads to count, and a close begun
 * after it finds nothing left to report. With what the offline queue
 * lost ({@link Outbox#discardedByClose()}, complete at termination), that is what a shutdown
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

    /** Whether the dial loop goes on. */
    boolean isRunning() {
        return state == RUNNING;
    }

    /** Keeps {@code r} as the connection a close must end; false, keeping nothing, if the client is not running. */
    boolean attach(RealConnectionRunner r) {
        lock.lock();
        try {
            if (state != RUNNING) {
                return false;
            }
            runner = r;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The connection kept by {@link #attach} has exited. */
    void detach() {
        lock.lock();
        try {
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

    /** The dialler thread ends: the client has terminated. */
    void diallerEnded() {
        lock.lock();
        try {
            dialler = null;
        } finally {
            lock.unlock();
        }
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

    /** What {@link #stop} found: the connection to end and the thread to wake. */
    private record Stopped(boolean wasNew, @Nullable RealConnectionRunner runner, @Nullable Thread dialler) {}

    /** Moves to CLOSED, ended by {@code why} (null: closed by the user); null if it was closed already. */
    private @Nullable Stopped stop(@Nullable Throwable why) {
        return stop(why, false);
    }

    /**
     * As {@link #stop(Throwable)}; {@code graceful} for a shutdown, which lets a hand-over of the
     * offline queue under way go on ({@link Outbox#shutDown}).
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
                logDiscarded(graceful ? outbox.shutDown() : outbox.close());
            } catch (Throwable t) { // out of memory: the close goes no further, but no shutdown may wait for it
                closeDone.complete(new Closed(runner, true));
                throw t;
            }
            return new Stopped(wasNew, runner, dialler);
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
            endCurrent(); // closed already: a shutdown's flush, if one runs, stops now
            return;
        }
        endConnection(s);
        wake(s);
    }

    /**
     * Ends the connection a close or shutdown before this one left running, if any: a shutdown
     * flushing it ({@link #shutdown}) is cut short, the rest of its queue discarded and counted
     * (in its runner, which the shutdown reports on). Ending a connection a close ended already
     * changes nothing.
     */
    private void endCurrent() {
        RealConnectionRunner r;
        lock.lock();
        try {
            r = runner;
        } finally {
            lock.unlock();
        }
        if (r != null) {
            r.exit(CloseReason.CLOSED);
        }
    }

    /** What the close that moved the client to CLOSED ended: its connection, if any, and whether its sender failed to close. */
    private record Closed(@Nullable RealConnectionRunner runner, boolean senderFailed) {
        static final Closed NOTHING = new Closed(null, false);

        /** Messages lost: those the connection's sender discarded (whole once it has exited), or 1 for a failed sender. */
        int lost() {
            return (senderFailed ? 1 : 0) + (runner == null ? 0 : runner.discardedInAll());
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
            closeDone.complete(new Closed(s.runner, !ended)); // a shutdown waiting for it must not wait for ever
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
        long deadline = Nanos.within(grace);
        Stopped s = stop(null, true);
        if (s == null) {
            // Closed already: by a close, another shutdown, giving up or a failure. The same end,
            // once whoever closed it has counted what its connection discarded.
            boolean done = awaitQuietly(termination, deadline) && awaitQuietly(closeDone, deadline);
            return done && !termination.isCompletedExceptionally() && closeDone.join().lost() + outbox.discardedByClose() == 0;
        }
        wake(s); // the dialler stops dialling or sleeping; if it runs a connection, it waits for its exit
        Closed closed = new Closed(s.runner, true);
        try {
            // A hand-over of the offline queue under way is finished first, its connection running
            // as before (its reader reads the replies); what it has not handed on by the deadline
            // (or a close) is discarded, counted, with what the queue still holds.
            outbox.awaitHandOvers(deadline);
            logDiscarded(outbox.close());
            // the call in progress finished and the queue flushed, cut short, or the deadline (-1: the sender failed)
            closed = new Closed(s.runner, s.runner != null && s.runner.finishAndShutdown(deadline) < 0);
        } finally {
            closeDone.complete(closed); // a shutdown waiting for it must not wait for ever
        }
        boolean done = awaitQuietly(termination, deadline);
        if (!done) {
            if (s.runner != null) {
                s.runner.exit(CloseReason.SHUTDOWN);
            }
            awaitQuietly(termination, Nanos.within(EXIT_AFTER_FORCE_CLOSE));
        }
        // Terminated: the last connection has exited, so its count is whole, and a hand-over of the
        // offline queue that the close cut short has counted what it had not given its sender.
        return done && closed.lost() + outbox.discardedByClose() == 0;
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
        return awaitQuietly(termination, Nanos.within(timeout));
    }

    @Override
    public String toString() {
        return "TcpClient[" + config.address() + "]";
    }
}
