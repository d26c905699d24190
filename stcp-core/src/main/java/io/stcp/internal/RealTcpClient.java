package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.Durations;
import io.stcp.NotConnectedException;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpClient;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TcpClient} implementation.
 *
 * <p><b>Threads.</b> One dialler thread (virtual, {@code stcp-client-ADDRESS}) runs the loop
 * dial ({@link Dialer}: TCP or a Unix socket) → run the connection with a
 * {@link RealConnectionRunner}, exactly as a server runs an accepted one, its layers (TLS,
 * {@link TlsLayer#forClient}) opened on its reader thread → wait for its exit → back off
 * ({@link Backoff}) → again. A connection whose layers fail never comes up: a failed attempt.
 * Connections never overlap: the next dial starts after the previous connection's exit hooks.
 * Puts go through the {@link Outbox}, which a connection joins on its reader thread just before
 * its reader's first call and leaves in its first exit hook.
 *
 * <p><b>States</b> ({@link #state}, written under {@link #lock}, volatile for the
 * not-connected message): NEW → RUNNING → CLOSED, or NEW → CLOSED; giving up is a CLOSED with
 * {@link #gaveUp} set.
 *
 * <p><b>Closing.</b> {@link #close()} moves to CLOSED under the lock, then ends the current
 * runner (if any) and interrupts the dialler, which ends whatever it waits in — a back-off sleep,
 * a connect — and, if it runs a connection, waits for that connection's exit (uninterruptibly:
 * the close has ended it) before completing {@link #termination}. A runner is stored only under
 * the lock while RUNNING, so close always sees the connection it must end.
 */
public final class RealTcpClient implements TcpClient {
    private static final Logger LOG = LoggerFactory.getLogger("io.stcp.client");
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);

    private final ClientConfig config;
    private final ConnectionReader reader;
    private final SenderFactory senderFactory;
    private final Dialer dialer;
    private final AcceptLoop.Sleeper sleeper;
    private final DoubleSupplier random;
    private final Backoff backoff;
    private final ConnectionContext context;
    private final Outbox outbox;
    private final RateLimiter failureLog = new RateLimiter(TimeUnit.SECONDS.toNanos(10));

    private volatile @Nullable ConnectionHook connectHook;
    private volatile @Nullable DisconnectHook disconnectHook;
    private volatile @Nullable GiveUpHook giveUpHook;

    private final ReentrantLock lock = new ReentrantLock();
    private volatile int state = NEW;                          // written under lock
    private volatile int failures;                             // written under lock: failed attempts in a row
    private volatile @Nullable ConnectException gaveUp;        // written under lock
    private @Nullable Thread dialler;                          // guarded by lock
    private @Nullable RealConnectionRunner runner;             // guarded by lock
    private final AtomicLong connects = new AtomicLong();
    private final CompletableFuture<Void> termination = new CompletableFuture<>();

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
        this.reader = Objects.requireNonNull(reader, "reader");
        this.senderFactory = Objects.requireNonNull(senderFactory, "senderFactory");
        this.dialer = new Dialer(config, resolver);
        this.sleeper = sleeper;
        this.random = random;
        this.backoff = new Backoff(Nanos.clamp(config.reconnectDelay()), config.reconnectMultiplier(),
                Nanos.clamp(config.reconnectMaxDelay()), config.reconnectJitter());
        // Its own exit log, as each server has: a client failing its handshakes in a loop does not
        // use up the WARN lines of other connections in the process.
        this.context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), new ExitLog(System::nanoTime),
                Nanos.timeout(config.writeTimeout()), Nanos.timeout(config.readIdleTimeout()), 0,
                Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT), layers);
        this.outbox = new Outbox(config.offlineCapacity() == 0 ? null
                : new OfflineQueue(config.offlineCapacity(), config.offlineMaxBytes()), this::notConnected);
    }

    @Override
    public TcpClient onConnect(@Nullable ConnectionHook hook) {
        this.connectHook = hook;
        return this;
    }

    @Override
    public TcpClient onDisconnect(@Nullable DisconnectHook hook) {
        this.disconnectHook = hook;
        return this;
    }

    @Override
    public TcpClient onGiveUp(@Nullable GiveUpHook hook) {
        this.giveUpHook = hook;
        return this;
    }

    @Override
    public TcpClient start() {
        lock.lock();
        try {
            if (state != NEW) {
                throw new IllegalStateException(state == RUNNING ? "client already started" : "client closed");
            }
            state = RUNNING; // before the dialler starts: it runs while RUNNING
            outbox.open();
            try {
                dialler = Threads.start("stcp-client-" + config.address(), this::dialLoop);
            } catch (RuntimeException | Error e) {
                state = CLOSED;
                outbox.close();
                termination.complete(null);
                throw e;
            }
        } finally {
            lock.unlock();
        }
        return this;
    }

    // ---------------------------------------------------------------- the dialler thread

    private void dialLoop() {
        long base = 0;
        try {
            while (state == RUNNING) {
                Throwable failure;
                SocketChannel channel = null;
                try {
                    channel = dialer.dial();
                    failure = null;
                } catch (IOException | RuntimeException | Error e) {
                    failure = e; // an Error too (out of memory): back off and try again, as the accept loop does
                }
                if (channel != null) {
                    failure = runConnection(channel);
                    if (failure == null) {
                        base = 0; // it was up: the back-off starts again
                    }
                }
                if (state != RUNNING) {
                    return;
                }
                base = backoff.next(base);
                long wait = backoff.jittered(base, random.getAsDouble());
                if (failure != null && failed(failure, wait)) {
                    return; // gave up
                }
                sleeper.sleep(wait);
            }
        } catch (InterruptedException e) {
            // closed during a back-off wait
        } finally {
            finish();
        }
    }

    /**
     * Runs a connection on {@code channel} until it exits.
     *
     * @return null if it was up (its connect hooks ran) or the client closed meanwhile, else why not
     */
    private @Nullable Throwable runConnection(SocketChannel channel) {
        RealConnection connection;
        try {
            connection = ConnectionOpener.open(channel, context);
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(channel);
            return e;
        }
        Link link = new Link();
        RealConnectionRunner r = new RealConnectionRunner(connection, link, senderFactory, () -> {});
        r.addStartHook(link::started);
        ConnectionHook onConnect = connectHook;
        if (onConnect != null) {
            r.addStartHook(onConnect);
        }
        r.addExitHook(outbox::goDown);
        DisconnectHook onDisconnect = disconnectHook;
        if (onDisconnect != null) {
            r.addExitHook(s -> onDisconnect.onDisconnect(s, reasonOf(s.connection())));
        }
        lock.lock();
        try {
            if (state != RUNNING) {
                connection.close();
                return null;
            }
            runner = r;
        } finally {
            lock.unlock();
        }
        try {
            r.start();
            awaitExit(r);
        } catch (RuntimeException | Error e) {
            connection.close(); // its reader thread could not be started
            return e;
        } finally {
            lock.lock();
            try {
                runner = null;
            } finally {
                lock.unlock();
            }
        }
        if (link.started) {
            return null;
        }
        Throwable cause = connection.closeCause();
        return cause != null ? cause
                : new IOException("connection ended before it was up (" + reasonOf(connection) + ")");
    }

    /**
     * One connection's part: counted as made when its start hooks begin, and joined to the outbox
     * at its reader's first call — after the connect hook's messages, and with its send thread
     * running, so an offline backlog larger than its queue is written as it goes.
     */
    private final class Link implements ConnectionReader {
        volatile boolean started;
        private boolean joined; // reader thread only

        void started(Sender s) {
            started = true;
            lock.lock();
            try {
                failures = 0;
            } finally {
                lock.unlock();
            }
            connects.incrementAndGet();
            LOG.atDebug().setMessage("client.connect").addKeyValue("address", config.address())
                    .addKeyValue("conn", s.connection().id()).log();
        }

        @Override
        public void read(Sender s, Connection c) throws Exception {
            if (!joined) {
                joined = true;
                outbox.goUp(s);
            }
            reader.read(s, c);
        }
    }

    private static CloseReason reasonOf(Connection c) {
        CloseReason r = c.closeReason();
        return r != null ? r : CloseReason.CLOSED;
    }

    /** Waits for the runner's exit; a close ends it, so an interrupt (the close's) does not stop the wait. */
    private static void awaitExit(RealConnectionRunner r) {
        boolean interrupted = false;
        while (true) {
            try {
                if (r.awaitExit(Duration.ofDays(1))) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Counts a failed attempt and logs it, or gives up.
     *
     * @return true if the client gave up (or closed meanwhile)
     */
    private boolean failed(Throwable failure, long waitNanos) {
        int n;
        lock.lock();
        try {
            n = ++failures;
            if (config.maxAttempts() == 0 || n < config.maxAttempts()) {
                n = -n; // carry on
            } else if (state == RUNNING) {
                ConnectException e = new ConnectException("gave up connecting to " + config.address() + " after " + n
                        + " failed attempts in a row: " + failure);
                e.initCause(failure);
                gaveUp = e;
                state = CLOSED;
                outbox.close();
            } else {
                return true;
            }
        } finally {
            lock.unlock();
        }
        if (n > 0) {
            LOG.atWarn().setMessage("client.gave_up").addKeyValue("address", config.address()).addKeyValue("attempts", n)
                    .setCause(failure).log();
            GiveUpHook hook = giveUpHook;
            if (hook != null) {
                try {
                    hook.onGiveUp(n, failure);
                } catch (Throwable t) {
                    LOG.atWarn().setMessage("client.hook.failed").addKeyValue("address", config.address())
                            .addKeyValue("hook", "giveUp").setCause(t).log();
                }
            }
            return true;
        }
        long held = failureLog.tryAcquire();
        if (held >= 0) {
            LOG.atWarn().setMessage("client.connect.failed").addKeyValue("address", config.address())
                    .addKeyValue("attempt", -n).addKeyValue("retryIn", Durations.format(Duration.ofNanos(waitNanos)))
                    .addKeyValue("suppressed", held).addKeyValue("error", failure.toString()).log();
        }
        return false;
    }

    private void finish() {
        lock.lock();
        try {
            dialler = null;
        } finally {
            lock.unlock();
        }
        ConnectException failure = gaveUp;
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
        ConnectException e = gaveUp;
        String why = switch (state) {
            case NEW -> "not started";
            case RUNNING -> f == 0 ? "connecting" : "reconnecting after " + f + " failed attempts";
            default -> e != null ? e.getMessage() : "client closed";
        };
        return new NotConnectedException("not connected to " + config.address() + ": " + why);
    }

    @Override
    public long connectCount() {
        return connects.get();
    }

    // ---------------------------------------------------------------- closing

    /** What {@link #stop()} found: the connection to end and the thread to wake. */
    private record Stopped(boolean wasNew, @Nullable RealConnectionRunner runner, @Nullable Thread dialler, int discarded) {}

    /** Moves to CLOSED; null if it was closed already. */
    private @Nullable Stopped stop() {
        lock.lock();
        try {
            if (state == CLOSED) {
                return null;
            }
            boolean wasNew = state == NEW;
            state = CLOSED;
            int discarded = outbox.close();
            if (discarded > 0) {
                LOG.atDebug().setMessage("client.offline.discarded").addKeyValue("address", config.address())
                        .addKeyValue("discarded", discarded).log();
            }
            return new Stopped(wasNew, runner, dialler, discarded);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        Stopped s = stop();
        if (s == null) {
            return;
        }
        if (s.runner != null) {
            s.runner.exit(CloseReason.CLOSED);
        }
        wake(s);
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
        Stopped s = stop();
        if (s == null) {
            return awaitQuietly(deadline) && !termination.isCompletedExceptionally();
        }
        int lost = s.discarded;
        wake(s); // the dialler stops dialling or sleeping; if it runs a connection, it waits for its exit
        if (s.runner != null) {
            int n = s.runner.shutdown(Nanos.remaining(deadline));
            lost += n < 0 ? 1 : n;
        }
        boolean done = awaitQuietly(deadline);
        if (!done) {
            if (s.runner != null) {
                s.runner.exit(CloseReason.SHUTDOWN);
            }
            awaitQuietly(Nanos.within(EXIT_AFTER_FORCE_CLOSE));
        }
        return done && lost == 0;
    }

    /** Waits for termination until {@code deadline} (0 = none), however it completes; false on timeout. */
    private boolean awaitQuietly(long deadline) throws InterruptedException {
        try {
            if (deadline == 0) {
                termination.get();
            } else {
                termination.get(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS);
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
        return awaitQuietly(Nanos.within(timeout));
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public String toString() {
        return "TcpClient[" + config.address() + "]";
    }
}
