package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.TcpServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;

/**
 * The {@link TcpServer} implementation.
 *
 * <p>States: NEW → RUNNING ({@link #start()}) → CLOSED ({@link #close()}), or NEW → CLOSED.
 * {@link #lock} guards the state and the listener, so start and close never race on it.
 *
 * <p>Connection counting: before it runs a connection the accept thread takes a slot in
 * {@link #live} with a compare-and-set that refuses to go past {@code maxConn}, so the count never
 * reads above the limit, not even for a moment; each connection gives its slot back after its
 * exit hooks, and a connection that never started gives it back at once. A connection registered
 * after {@link #close()} has walked {@link #connections} sees {@link #closed} and exits at once
 * (both are volatile/CHM writes made before the other side reads them).
 *
 * <p>Accept failure: when the accept loop gives up, {@link #acceptFailure} is set before
 * {@link #acceptEnded} (both volatile, so whoever sees the loop ended sees the failure), then the
 * server closes itself as {@link #close()} does; {@link #termination} completes exceptionally with
 * the failure once the last connection has exited, like a normal termination.
 */
public final class RealTcpServer implements TcpServer {
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);

    private final ServerConfig config;
    private final ConnectionReader reader;
    private final SenderFactory senderFactory;
    private volatile ConnectionHook startHook;
    private volatile ConnectionHook exitHook;

    private final ReentrantLock lock = new ReentrantLock();
    private int state = NEW;                    // guarded by lock
    private ServerSocketChannel listener;       // guarded by lock
    private volatile InetSocketAddress address;
    private ConnectionContext context;          // set by start(), before the accept thread starts
    private TlsWatch tlsWatch;                  // guarded by lock; null without a watch
    private volatile boolean closed;
    private volatile boolean acceptEnded;
    private volatile AcceptException acceptFailure;

    private final AtomicInteger live = new AtomicInteger();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final RateLimiter rejectLog;
    private final UnaryOperator<AcceptLoop.Acceptor> acceptors;
    private final Map<Long, RealConnectionRunner> connections = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> termination = new CompletableFuture<>();

    public RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        this(config, reader, senderFactory, UnaryOperator.identity(), System::nanoTime);
    }

    /**
     * A server with test seams.
     *
     * @param acceptors wraps the listener's accept call, e.g. to inject accept failures
     * @param nanoClock the clock of the rate-limited {@code server.reject} line
     */
    RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory,
                  UnaryOperator<AcceptLoop.Acceptor> acceptors, LongSupplier nanoClock) {
        this.config = Objects.requireNonNull(config, "config");
        this.reader = Objects.requireNonNull(reader, "reader");
        this.senderFactory = Objects.requireNonNull(senderFactory, "senderFactory");
        this.acceptors = Objects.requireNonNull(acceptors, "acceptors");
        this.rejectLog = new RateLimiter(TimeUnit.SECONDS.toNanos(10), 1, nanoClock);
    }

    @Override
    public TcpServer onConnectionStart(ConnectionHook hook) {
        this.startHook = hook;
        return this;
    }

    @Override
    public TcpServer onConnectionExit(ConnectionHook hook) {
        this.exitHook = hook;
        return this;
    }

    @Override
    public TcpServer start() throws IOException {
        lock.lock();
        try {
            if (state != NEW) {
                throw new IllegalStateException(state == RUNNING ? "server already started" : "server closed");
            }
            ReadinessSource source = Transports.source();
            InetSocketAddress bindAddress = HostPort.parse(config.address()).toBindAddress();
            ServerSocketChannel ch = ServerSocketChannel.open();
            try {
                if (bindAddress.isUnresolved()) {
                    throw new java.net.UnknownHostException("unknown host \"" + bindAddress.getHostString() + "\"");
                }
                ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                ch.bind(bindAddress, config.effectiveBacklog());
            } catch (IOException | RuntimeException e) {
                ch.close();
                BindException be = new BindException("cannot listen on \"" + config.address() + "\": " + e.getMessage());
                be.initCause(e);
                throw be;
            }
            try {
                InetSocketAddress bound = (InetSocketAddress) ch.getLocalAddress();
                context = ConnectionContext.of(config, new Sweeper("stcp-sweeper-" + bound.getPort()),
                        new InboundBudget(config.effectiveInboundBudget()), source, new ExitLog(System::nanoTime),
                        TlsLayer.forServer(config));
                AcceptLoop loop = new AcceptLoop(acceptors.apply(ch::accept), this::onAccepted, config.acceptDelay(),
                        config.acceptMaxDelay(), config.acceptMaxRetry(), AcceptLoop.Sleeper.REAL, () -> closed);
                listener = ch;
                address = bound;
                state = RUNNING;
                Threads.start("stcp-accept-" + bound.getPort(), () -> acceptLoop(loop));
                tlsWatch = TlsWatch.start(RealTlsConfig.of(config.tls()), HostPort.format(bound));
            } catch (IOException | RuntimeException | Error e) {
                // nothing may stay bound when start() fails: the caller sees the failure, nothing else
                listener = null;
                address = null;
                state = NEW;
                ch.close();
                throw e;
            }
        } finally {
            lock.unlock();
        }
        Log.SERVER.atInfo().setMessage("server.start").addKeyValue("address", HostPort.format(address))
                .addKeyValue("maxConn", config.maxConn()).addKeyValue("transport", Transports.name())
                .addKeyValue("tls", config.tls() != null).log();
        return this;
    }

    private void acceptLoop(AcceptLoop loop) {
        try {
            loop.run();
        } catch (AcceptException e) {
            Log.SERVER.atError().setMessage("server.accept.failed").addKeyValue("address", HostPort.format(address))
                    .setCause(e).log();
            acceptFailure = e;
            acceptEnded = true;
            close(); // stop listening and end the live connections; termination fails once they exited
            return;
        }
        acceptEnded = true;
        maybeTerminate();
    }

    private void onAccepted(SocketChannel channel) {
        if (!takeSlot()) {
            long total = rejected.incrementAndGet();
            long held = rejectLog.tryAcquire();
            if (held >= 0) {
                Log.SERVER.atWarn().setMessage("server.reject").addKeyValue("reason", "maxConn")
                        .addKeyValue("maxConn", config.maxConn()).addKeyValue("suppressed", held)
                        .addKeyValue("rejectedTotal", total).log();
            }
            closeQuietly(channel); // after the count and the log: a peer that sees the close sees both done
            return;
        }
        boolean running = false;
        try {
            running = run(channel);
        } finally {
            if (!running) {
                // The peer went away before its connection could start, or starting it threw (the
                // accept loop logs that and carries on): the slot is ours to give back.
                closeQuietly(channel);
                live.decrementAndGet();
                maybeTerminate();
            }
        }
    }

    /** Takes a connection slot unless {@code maxConn} connections are live. */
    private boolean takeSlot() {
        int max = config.effectiveMaxConn();
        for (int n = live.get(); n < max; n = live.get()) {
            if (live.compareAndSet(n, n + 1)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Starts a runner for {@code channel}, which then owns the slot ({@link #onExited}).
     *
     * @return false if the peer went away first
     */
    private boolean run(SocketChannel channel) {
        RealConnection connection;
        try {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            connection = RealConnection.open(channel, context);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        long id = connection.id();
        RealConnectionRunner runner = new RealConnectionRunner(connection, reader, senderFactory, () -> onExited(id));
        ConnectionHook start = startHook;
        ConnectionHook exit = exitHook;
        if (start != null) {
            runner.addStartHook(start);
        }
        if (exit != null) {
            runner.addExitHook(exit);
        }
        accepted.incrementAndGet();
        connections.put(id, runner);
        if (closed) {
            runner.exit(CloseReason.SHUTDOWN);
        }
        try {
            runner.start();
        } catch (RuntimeException | Error e) {
            connections.remove(id);
            accepted.decrementAndGet();
            connection.close();
            throw e;
        }
        return true;
    }

    private void onExited(long id) {
        connections.remove(id);
        live.decrementAndGet();
        maybeTerminate();
    }

    private void maybeTerminate() {
        if (closed && acceptEnded && live.get() == 0 && !termination.isDone()) {
            AcceptException failure = acceptFailure;
            if (failure == null ? termination.complete(null) : termination.completeExceptionally(failure)) {
                Log.SERVER.atInfo().setMessage("server.stop").addKeyValue("address", HostPort.format(address))
                        .addKeyValue("accepted", accepted.get()).addKeyValue("rejected", rejected.get())
                        .addKeyValue("acceptFailed", failure != null).log();
            }
        }
    }

    @Override
    public InetSocketAddress address() {
        InetSocketAddress a = address;
        if (a == null) {
            throw new IllegalStateException("server not started");
        }
        return a;
    }

    @Override
    public int connectionCount() {
        return live.get();
    }

    @Override
    public long acceptedCount() {
        return accepted.get();
    }

    @Override
    public long rejectedCount() {
        return rejected.get();
    }

    /** Stops listening; returns false if it was already closed. */
    private boolean stopListening() {
        lock.lock();
        try {
            if (state == CLOSED) {
                return false;
            }
            closed = true;
            if (state == NEW) {
                acceptEnded = true;
            }
            state = CLOSED;
            if (tlsWatch != null) {
                tlsWatch.stop();
            }
            if (listener != null) {
                try {
                    listener.close();
                } catch (IOException ignored) {
                    // closing is best effort
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        stopListening();
        for (RealConnectionRunner runner : connections.values()) {
            runner.exit(CloseReason.SHUTDOWN);
        }
        maybeTerminate();
    }

    @Override
    public boolean shutdown(Duration grace) throws InterruptedException {
        stopListening();
        long deadline = Nanos.within(grace);
        List<Thread> flushers = new ArrayList<>();
        AtomicBoolean discarded = new AtomicBoolean(); // some connection could not write everything
        for (RealConnectionRunner runner : connections.values()) {
            flushers.add(Threads.start("stcp-shutdown-" + runner.connection().id(), () -> {
                if (runner.shutdown(Nanos.remaining(deadline)) != 0) {
                    discarded.set(true);
                }
            }));
        }
        maybeTerminate();
        boolean drained = awaitQuietly(deadline);
        if (!drained) {
            close();
            awaitQuietly(Nanos.within(EXIT_AFTER_FORCE_CLOSE));
        }
        long joinDeadline = Nanos.within(EXIT_AFTER_FORCE_CLOSE);
        for (Thread t : flushers) {
            t.join(Nanos.remaining(joinDeadline));
        }
        // The flushers close at the deadline, so connections may have exited "in time" by force.
        return drained && !discarded.get();
    }

    /** Waits for termination until {@code deadline} (0 = none); false on timeout or accept failure. */
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
            return false; // the accept loop gave up: the connections were closed, not drained
        }
    }

    @Override
    public CompletableFuture<Void> termination() {
        return termination.copy();
    }

    @Override
    public void awaitTermination() throws InterruptedException, AcceptException {
        try {
            termination.get();
        } catch (ExecutionException e) {
            throw (AcceptException) e.getCause();
        }
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException, AcceptException {
        try {
            termination.get(Nanos.clamp(timeout), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw (AcceptException) e.getCause();
        }
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
        return "TcpServer[" + (address == null ? config.address() : address) + "]";
    }
}
