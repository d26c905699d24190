package io.stcp.internal;

import io.stcp.ClientConfig;
import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.Durations;
import io.stcp.NotConnectedException;
import io.stcp.SendException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpClient;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
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
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TcpClient} implementation.
 *
 * <p><b>Threads.</b> One dialler thread (virtual, {@code stcp-client-ADDRESS}) runs the loop
 * resolve → connect → run the connection with a {@link RealConnectionRunner}, exactly as a server
 * runs an accepted one → wait for its exit → back off → again. Connections never overlap: the
 * next dial starts after the previous connection's exit hooks.
 *
 * <p><b>States</b> ({@link #state}, guarded by {@link #lock}): NEW → RUNNING → CLOSED, or NEW →
 * CLOSED. Inside RUNNING, {@link #connected} is the sender of the connection that is up, or null.
 * A connection goes up on its reader thread, at the reader's first call: after its start hooks
 * and once the send thread runs, the offline queue is handed to its sender (waiting for room as
 * the reader's own puts do), then, under the lock and only if the queue is empty by then,
 * {@link #connected} is set. Puts that find no connection go to the offline queue under the same
 * lock, so each message is either in the queue before the hand-over ends or put after it: order
 * is kept. {@link #connected} is cleared by the connection's first exit hook, by a put that finds
 * its sender closed, and by close.
 *
 * <p><b>Closing.</b> {@link #close()} moves to CLOSED under the lock, then ends the current
 * runner (if any) and interrupts the dialler, which ends whatever it waits in — a back-off sleep,
 * a connect — and, if it runs a connection, waits for that connection's exit (uninterruptibly:
 * the close has ended it) before completing {@link #termination}. A runner is only stored under
 * the lock while RUNNING, so close always sees the connection it must end.
 */
public final class RealTcpClient implements TcpClient {
    private static final Logger LOG = LoggerFactory.getLogger("io.stcp.client");
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);

    /** Resolves the host on every attempt; a seam for tests. */
    @FunctionalInterface
    interface Resolver {
        InetSocketAddress resolve(String host, int port) throws IOException;

        /** The JVM's resolver; an empty host is the loopback address. */
        Resolver DNS = (host, port) -> {
            InetSocketAddress a = host.isEmpty() ? new InetSocketAddress(InetAddress.getLoopbackAddress(), port)
                    : new InetSocketAddress(host, port);
            if (a.isUnresolved()) {
                throw new UnknownHostException("unknown host \"" + host + "\"");
            }
            return a;
        };
    }

    private final ClientConfig config;
    private final HostPort target;
    private final ConnectionReader reader;
    private final SenderFactory senderFactory;
    private final Resolver resolver;
    private final AcceptLoop.Sleeper sleeper;
    private final DoubleSupplier random;
    private final Backoff backoff;
    private final ConnectionContext context;
    private final RateLimiter failureLog = new RateLimiter(TimeUnit.SECONDS.toNanos(10));
    private final RateLimiter droppedLog = new RateLimiter(TimeUnit.SECONDS.toNanos(10));

    private volatile @Nullable ConnectionHook connectHook;
    private volatile @Nullable DisconnectHook disconnectHook;
    private volatile @Nullable GiveUpHook giveUpHook;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();    // connected, or closed
    private int state = NEW;                                   // guarded by lock
    private @Nullable Thread dialler;                          // guarded by lock
    private @Nullable RealConnectionRunner runner;             // guarded by lock
    private final @Nullable OfflineQueue offline;              // guarded by lock; null: fail fast
    private @Nullable ConnectException gaveUp;                 // guarded by lock
    private int failures;                                      // guarded by lock: failed attempts in a row
    private final AtomicReference<@Nullable Sender> connected = new AtomicReference<>();
    private final AtomicLong connects = new AtomicLong();
    private final CompletableFuture<Void> termination = new CompletableFuture<>();

    public RealTcpClient(ClientConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        this(config, reader, senderFactory, Resolver.DNS, AcceptLoop.Sleeper.REAL,
                () -> ThreadLocalRandom.current().nextDouble(), List.of());
    }

    /**
     * A client with test seams.
     *
     * @param resolver resolves the host on every attempt
     * @param sleeper sleeps the back-off waits; must return early with InterruptedException when interrupted
     * @param random values in [0, 1) for the jitter
     * @param layers opened over every dialled socket, in order (TLS, when it exists)
     */
    RealTcpClient(ClientConfig config, ConnectionReader reader, SenderFactory senderFactory, Resolver resolver,
                  AcceptLoop.Sleeper sleeper, DoubleSupplier random, List<TransportLayer> layers) {
        this.config = Objects.requireNonNull(config, "config");
        this.target = HostPort.parse(config.address());
        this.reader = Objects.requireNonNull(reader, "reader");
        this.senderFactory = Objects.requireNonNull(senderFactory, "senderFactory");
        this.resolver = resolver;
        this.sleeper = sleeper;
        this.random = random;
        this.backoff = new Backoff(Nanos.clamp(config.reconnectDelay()), config.reconnectMultiplier(),
                Nanos.clamp(config.reconnectMaxDelay()), config.reconnectJitter());
        this.context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(config.writeTimeout()), Nanos.timeout(config.readIdleTimeout()), 0,
                Nanos.timeout(ServerConfig.DEFAULT_FRAME_TIMEOUT), layers);
        this.offline = config.offlineCapacity() == 0 ? null
                : new OfflineQueue(config.offlineCapacity(), config.offlineMaxBytes());
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
            dialler = Threads.start("stcp-client-" + config.address(), this::dialLoop);
            state = RUNNING;
        } finally {
            lock.unlock();
        }
        return this;
    }

    // ---------------------------------------------------------------- the dialler thread

    private void dialLoop() {
        long base = 0;
        try {
            while (isRunning()) {
                Throwable failure;
                SocketChannel channel = null;
                try {
                    channel = dial();
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
                if (!isRunning()) {
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

    /** Resolves and connects, within the connect timeout. */
    private SocketChannel dial() throws IOException {
        InetSocketAddress remote = resolver.resolve(target.host(), target.port());
        SocketChannel ch = SocketChannel.open();
        try {
            if (config.localAddress() != null) {
                ch.bind(config.localAddress());
            }
            ch.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            long timeoutMillis = config.connectTimeout().isZero() ? 0
                    : Math.max(1, Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()));
            ch.socket().connect(remote, (int) timeoutMillis);
            return ch;
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Runs a connection on {@code channel} until it exits.
     *
     * @return null if it was up (its connect hooks ran), else why not
     */
    private @Nullable Throwable runConnection(SocketChannel channel) {
        RealConnection connection;
        try {
            connection = RealConnection.open(channel, context);
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
        r.addExitHook(link::ended);
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
            connection.close(); // the reader thread could not be started
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
     * @return true if the client gave up
     */
    private boolean failed(Throwable failure, long waitNanos) {
        int n;
        boolean givingUp = false;
        lock.lock();
        try {
            n = ++failures;
            if (config.maxAttempts() > 0 && n >= config.maxAttempts()) {
                if (state != RUNNING) {
                    return true;
                }
                givingUp = true;
                state = CLOSED;
                ConnectException e = new ConnectException("gave up connecting to " + config.address() + " after " + n
                        + " failed attempts in a row: " + failure);
                e.initCause(failure);
                gaveUp = e;
                discardOffline();
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
        if (givingUp) {
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
                    .addKeyValue("attempt", n).addKeyValue("retryIn", Durations.format(Duration.ofNanos(waitNanos)))
                    .addKeyValue("suppressed", held).addKeyValue("error", failure.toString()).log();
        }
        return false;
    }

    private void finish() {
        ConnectException failure;
        lock.lock();
        try {
            dialler = null;
            failure = gaveUp;
        } finally {
            lock.unlock();
        }
        if (failure == null) {
            termination.complete(null);
        } else {
            termination.completeExceptionally(failure);
        }
    }

    private boolean isRunning() {
        lock.lock();
        try {
            return state == RUNNING;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- one connection

    /**
     * One connection's part of the client: counts it as up when its start hooks run, hands it the
     * offline queue at the reader's first call (the send thread runs by then, so a large queue is
     * written as it goes, the reader waiting for room), and takes it down in its first exit hook.
     */
    private final class Link implements ConnectionReader {
        volatile boolean started;
        private boolean up; // reader thread only

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
            if (!up) {
                up = true;
                goUp(s);
            }
            reader.read(s, c);
        }

        void ended(Sender s) {
            connected.compareAndSet(s, null);
        }
    }

    /** Hands the offline queue to {@code s}, then publishes it as the connection that is up. */
    private void goUp(Sender s) {
        while (true) {
            List<OfflineQueue.Entry> batch;
            lock.lock();
            try {
                if (state != RUNNING || s.isClosed()) {
                    return;
                }
                if (offline == null || offline.isEmpty()) {
                    connected.set(s);
                    changed.signalAll();
                    return;
                }
                batch = offline.takeAll();
            } finally {
                lock.unlock();
            }
            for (int i = 0; i < batch.size(); i++) {
                OfflineQueue.Entry e = batch.get(i);
                try {
                    put(s, e.key(), e.bytes());
                } catch (SenderClosedException closed) {
                    putBack(batch.subList(i, batch.size())); // for the next connection
                    return;
                } catch (SendException full) {
                    long held = droppedLog.tryAcquire();
                    if (held >= 0) {
                        Log.conn(Log.WARN, "client.offline.dropped", s.connection()).addKeyValue("suppressed", held)
                                .addKeyValue("error", full.getMessage()).log();
                    }
                }
            }
        }
    }

    private void putBack(List<OfflineQueue.Entry> rest) {
        lock.lock();
        try {
            if (state == RUNNING && offline != null) {
                offline.putBack(rest);
            }
        } finally {
            lock.unlock();
        }
    }

    private static void put(Sender s, @Nullable Object key, byte[] bytes) {
        if (key == null) {
            s.put(bytes);
        } else if (key instanceof Integer i) {
            s.put(i.intValue(), bytes);
        } else {
            s.put((String) key, bytes);
        }
    }

    // ---------------------------------------------------------------- sending (any thread)

    @Override
    public boolean isConnected() {
        return connected.get() != null;
    }

    @Override
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        long deadline = Nanos.within(timeout);
        lock.lock();
        try {
            while (connected.get() == null && state != CLOSED) {
                if (deadline == 0) {
                    changed.await();
                } else {
                    long left = Nanos.left(deadline, System.nanoTime());
                    if (left == 0) {
                        return false;
                    }
                    changed.awaitNanos(left);
                }
            }
            return connected.get() != null;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Sender sender() {
        Sender s = connected.get();
        if (s == null) {
            lock.lock();
            try {
                throw notConnected();
            } finally {
                lock.unlock();
            }
        }
        return s;
    }

    @Override
    public void put(byte[] bytes) {
        send(null, bytes);
    }

    @Override
    public void put(int key, byte[] bytes) {
        send(key, bytes);
    }

    @Override
    public void put(String key, byte[] bytes) {
        send(Objects.requireNonNull(key, "key"), bytes);
    }

    private void send(@Nullable Object key, byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        Sender s = connected.get();
        if (s != null) {
            try {
                put(s, key, bytes);
                return;
            } catch (SenderClosedException e) {
                connected.compareAndSet(s, null); // the connection is ending: keep it offline, or fail as not connected
            }
        }
        lock.lock();
        try {
            s = connected.get();
            if (s == null) {
                if (offline == null || state != RUNNING) {
                    throw notConnected();
                }
                offline.add(key, bytes);
                return;
            }
        } finally {
            lock.unlock();
        }
        put(s, key, bytes); // a connection came up meanwhile
    }

    /** Under the lock. */
    private NotConnectedException notConnected() {
        String why = switch (state) {
            case NEW -> "not started";
            case RUNNING -> failures == 0 ? "connecting" : "reconnecting after " + failures + " failed attempts";
            default -> gaveUp != null ? gaveUp.getMessage() : "client closed";
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
            connected.set(null);
            changed.signalAll();
            return new Stopped(wasNew, runner, dialler, discardOffline());
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock. */
    private int discardOffline() {
        int n = offline == null ? 0 : offline.clear();
        if (n > 0) {
            LOG.atDebug().setMessage("client.offline.discarded").addKeyValue("address", config.address())
                    .addKeyValue("discarded", n).log();
        }
        return n;
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
            return awaitQuietly(deadline) && termination.isDone() && !termination.isCompletedExceptionally();
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
