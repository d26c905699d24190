package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionRegistry;
import io.stcp.ConnectionReader;
import io.stcp.RejectReason;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.ServerStats;
import io.stcp.TcpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The {@link TcpServer} implementation: the listener's lifecycle and the ways to end the server.
 * The parts: {@link ServerListener} (the listening socket), {@link Admission} (which accepted
 * sockets become connections, and the counts), {@link ServerConnections} (running them, ending
 * them) and {@link ServerTermination} (when the server has ended, and the waits for it).
 *
 * <p>States: NEW → RUNNING ({@link #start()}) → CLOSED ({@link #close()}), or NEW → CLOSED.
 * {@link #lock} guards the state and the listener, so start and close never race on it.
 *
 * <p>Accept failure: when the accept loop gives up, the server records the failure
 * ({@link ServerTermination#acceptEnded}) and closes itself as {@link #close()} does; the
 * termination completes exceptionally with the failure once the last connection has exited, like
 * a normal termination.
 */
public final class RealTcpServer implements TcpServer {
    /** The JDK's system property for the number of carriers of virtual threads. */
    static final String PARALLELISM = "jdk.virtualThreadScheduler.parallelism";

    private static final int NEW = 0;
    private static final int RUNNING = 1;
    private static final int CLOSED = 2;
    private static final Duration EXIT_AFTER_FORCE_CLOSE = Duration.ofSeconds(5);
    /**
     * How long a stop waits for the accept thread to leave its accept call ({@link #awaitListenerClosed}):
     * the listener's close wakes it, so it leaves at once unless every carrier is busy.
     */
    private static final Duration ACCEPT_RETURN_GRACE = Duration.ofSeconds(1);

    private final ServerConfig config;

    private final ReentrantLock lock = new ReentrantLock();
    private int state = NEW;                    // guarded by lock
    private ServerListener listener;            // guarded by lock
    private volatile InetSocketAddress address; // null for a Unix socket
    private volatile SocketAddress localAddress;
    private TlsWatch tlsWatch;                  // guarded by lock; null without a watch

    private final UnaryOperator<AcceptLoop.Acceptor> acceptors;
    private final LongSupplier nanoClock;
    private final StatsCounters stats = new StatsCounters();
    private final Admission admission;
    private final ServerConnections connections;
    private final ServerTermination termination;
    private volatile AcceptLoop acceptLoop;
    /** The stats' discarded count when close() first began to end connections; -1 before. See shutdown(). */
    private final AtomicLong discardedBeforeClose = new AtomicLong(-1);
    private volatile @Nullable Thread acceptThread;                 // set once by start()
    private final CountDownLatch acceptReturned = new CountDownLatch(1); // the accept loop has left its accept call for good
    private TransportLayer testLayer;           // guarded by lock; null but in tests (layUnder)

    public RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        this(config, reader, senderFactory, UnaryOperator.identity(), System::nanoTime);
    }

    /**
     * A server with test seams.
     *
     * @param acceptors wraps the listener's accept call, e.g. to inject accept failures
     * @param nanoClock the clock of the rate-limited {@code server.reject} and {@code conn.*} lines and the
     *     per-address rates
     */
    RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory,
                  UnaryOperator<AcceptLoop.Acceptor> acceptors, LongSupplier nanoClock) {
        this.config = Objects.requireNonNull(config, "config");
        this.acceptors = Objects.requireNonNull(acceptors, "acceptors");
        this.admission = new Admission(config, stats, nanoClock);
        this.nanoClock = nanoClock;
        this.connections = new ServerConnections(config, Objects.requireNonNull(reader, "reader"),
                Objects.requireNonNull(senderFactory, "senderFactory"), admission, stats, this::maybeTerminate);
        this.termination = new ServerTermination(admission);
    }

    /** Tests only: connections' threads are started by {@code starter}, which may throw (out of memory). */
    RealTcpServer startConnectionsWith(java.util.function.Consumer<RealConnectionRunner> starter) {
        connections.startWith(starter);
        return this;
    }

    /**
     * Tests only: {@code step} runs on each connection once it is open (its transport made, on
     * epoll its descriptor registered), before its runner is made; it may throw,
     * as out of memory would there.
     */
    RealTcpServer afterOpeningConnections(java.util.function.Consumer<RealConnection> step) {
        connections.afterOpen(step);
        return this;
    }

    /**
     * Test seam: opens {@code layer} over every accepted socket, first (under the PROXY and TLS
     * layers), e.g. to make a transport's calls fail. Before {@link #start()}.
     */
    RealTcpServer layUnder(TransportLayer layer) {
        lock.lock();
        try {
            testLayer = layer;
        } finally {
            lock.unlock();
        }
        return this;
    }

    @Override
    public TcpServer onConnectionStart(ConnectionHook hook) {
        connections.onStart(hook);
        return this;
    }

    @Override
    public TcpServer onConnectionExit(ConnectionHook hook) {
        connections.onExit(hook);
        return this;
    }

    @Override
    public TcpServer registry(ConnectionRegistry registry) {
        connections.registry(registry == null ? null : RealConnectionRegistry.of(registry));
        return this;
    }

    @Override
    public TcpServer start() throws IOException {
        Log.requireSlf4j2(); // before anything is bound: every line logged needs SLF4J 2
        JfrEvents.register(); // before the first connection, which would wait for it
        lock.lock();
        try {
            if (state != NEW) {
                throw new IllegalStateException(state == RUNNING ? "server already started" : "server closed");
            }
            ReadinessSource source = Transports.source();
            ServerListener l = ServerListener.open(config);
            try {
                SocketAddress bound = l.address();
                Sweeper sweeper = new Sweeper("stcp-sweeper-" + l.name());
                admission.open(sweeper);
                List<TransportLayer> layers = new ArrayList<>();
                if (testLayer != null) {
                    layers.add(testLayer);
                }
                if (config.proxyProtocol().isEnabled()) {
                    layers.add(new ProxyProtocolLayer(config.proxyProtocol(), admission)); // first: next to the socket
                }
                layers.addAll(TlsLayer.forServer(config)); // then TLS, inside the PROXY header
                connections.open(ConnectionContext.of(config, sweeper, new InboundBudget(config.effectiveInboundBudget()),
                        source, new ExitLog(nanoClock), layers), l);
                AcceptLoop loop = new AcceptLoop(acceptors.apply(l.channel()::accept), connections::accept,
                        config.acceptDelay(), config.acceptMaxDelay(), config.acceptMaxRetry(), termination::backOff,
                        termination::isClosed);
                acceptLoop = loop;
                listener = l;
                address = bound instanceof InetSocketAddress inet ? inet : null;
                localAddress = bound;
                state = RUNNING;
                acceptThread = Threads.start("stcp-accept-" + l.name(), () -> acceptLoop(loop));
                tlsWatch = TlsWatch.start(RealTlsConfig.of(config.tls()), HostPort.format(bound));
            } catch (RuntimeException | Error e) {
                // nothing may stay bound when start() fails: the caller sees the failure, nothing else
                listener = null;
                address = null;
                localAddress = null;
                state = NEW;
                l.close();
                throw e;
            }
        } finally {
            lock.unlock();
        }
        Log.SERVER.atInfo().setMessage("server.start").addKeyValue("address", HostPort.format(localAddress))
                .addKeyValue("maxConn", config.maxConn()).addKeyValue("transport", Transports.name())
                .addKeyValue("proxyProtocol",
                        config.proxyProtocol().mode().name().toLowerCase(java.util.Locale.ROOT)) // as JSON and echo write it
                .addKeyValue("reusePort", config.reusePort())
                .addKeyValue("tls", config.tls() != null)
                .log();
        if (oneCarrierByDefault(Runtime.getRuntime().availableProcessors(), System.getProperty(PARALLELISM))) {
            Log.SERVER.atWarn().setMessage("server.oneCarrier").addKeyValue("address", HostPort.format(localAddress))
                    .addKeyValue("advice", "-D" + PARALLELISM + "=2").log();
        }
        return this;
    }

    /**
     * Whether virtual threads get a single carrier because the JVM chose it (one processor, and
     * {@value #PARALLELISM} not set): then nothing takes that carrier from a reader that does not
     * wait. Readers give way after a turn of reading ({@link Transport#giveWay}), but one that
     * computes for long between reads keeps the carrier meanwhile (README, "On one CPU").
     */
    static boolean oneCarrierByDefault(int processors, @Nullable String parallelism) {
        return processors == 1 && parallelism == null;
    }

    private void acceptLoop(AcceptLoop loop) {
        try {
            try {
                loop.run();
            } finally {
                acceptReturned.countDown(); // the listener's close is done: see awaitListenerClosed
            }
        } catch (AcceptException e) {
            Log.SERVER.atError().setMessage("server.accept.failed").addKeyValue("address", HostPort.format(localAddress))
                    .setCause(e).log();
            termination.acceptEnded(e);
            close(); // stop listening and end the live connections; termination fails once they exited
            return;
        }
        termination.acceptEnded(null);
        maybeTerminate();
    }

    private void maybeTerminate() {
        SocketAddress bound = localAddress;
        termination.maybeTerminate(bound != null ? HostPort.format(bound) : config.address()); // never bound: as configured
    }

    @Override
    public InetSocketAddress address() {
        InetSocketAddress a = address;
        if (a == null) {
            if (localAddress != null) {
                throw new IllegalStateException("listening on " + HostPort.format(localAddress)
                        + ", not a TCP address: use localAddress()");
            }
            throw new IllegalStateException("server not started");
        }
        return a;
    }

    @Override
    public SocketAddress localAddress() {
        SocketAddress a = localAddress;
        if (a == null) {
            throw new IllegalStateException("server not started");
        }
        return a;
    }

    @Override
    public int connectionCount() {
        return admission.liveCount();
    }

    @Override
    public long acceptedCount() {
        return admission.acceptedCount();
    }

    @Override
    public ServerStats stats() {
        AcceptLoop loop = acceptLoop;
        return stats.snapshot(admission::liveCount, admission::acceptedCount, loop == null ? 0 : loop.errors(),
                admission.healthCheckCount(), connections.runners(), config.tls());
    }

    @Override
    public long rejectedCount() {
        return admission.rejectedCount();
    }

    @Override
    public long rejectedCount(RejectReason reason) {
        return admission.rejectedCount(reason);
    }

    @Override
    public long healthCheckCount() {
        return admission.healthCheckCount();
    }

    /** Addresses in the per-address table now (0 without one); for tests. */
    int trackedAddressCount() {
        return admission.trackedAddressCount();
    }

    /** Stops listening; returns false if it was already closed. */
    private boolean stopListening() {
        lock.lock();
        try {
            if (state == CLOSED) {
                return false;
            }
            termination.closed(state != NEW);
            state = CLOSED;
            if (tlsWatch != null) {
                tlsWatch.stop();
            }
            if (listener != null) {
                listener.close();
            }
            admission.close();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * After {@link #stopListening}: waits until the accept thread has left its accept call, for
     * {@link #ACCEPT_RETURN_GRACE} at most, unless this is that thread (an accept loop that gave up
     * closes the server). The JDK closes a listener whose accept a virtual thread waits in only once
     * that thread has woken: until then the socket still listens, the kernel completes connections
     * into its backlog (reset when it closes at last) and the port cannot be bound again. So a stop
     * that has returned has stopped listening, and the connections it ends next cannot reconnect to
     * it. An interrupt meanwhile does not end the wait, and is kept.
     */
    private void awaitListenerClosed() {
        Thread t = acceptThread;
        if (t == null || t == Thread.currentThread()) {
            return;
        }
        boolean interrupted = false;
        long until = System.nanoTime() + ACCEPT_RETURN_GRACE.toNanos();
        try {
            while (acceptReturned.getCount() > 0) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    acceptReturned.await(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        stopListening();
        awaitListenerClosed();
        if (discardedBeforeClose.get() < 0) {
            discardedBeforeClose.compareAndSet(-1, stats().discarded());
        }
        connections.endAll();
        maybeTerminate();
    }

    @Override
    public boolean drain(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        OwnThread.refuseWait(connections.isOwnThread(), "server", "drain(timeout)");
        stopListening();
        awaitListenerClosed();
        maybeTerminate();
        return termination.awaitQuietly(Nanos.within(timeout));
    }

    @Override
    public boolean shutdown(Duration grace) throws InterruptedException {
        Objects.requireNonNull(grace, "grace");
        OwnThread.refuseWait(connections.isOwnThread(), "server", "shutdown(grace)");
        stopListening();
        long deadline = Nanos.within(grace);
        awaitListenerClosed();
        // stcp's senders count every message they could not write; what a close() that came first
        // discarded counts too (a second signal under runUntilSignal closes before the shutdown starts)
        long closedAt = discardedBeforeClose.get();
        long discardedBefore = closedAt >= 0 ? closedAt : stats().discarded();
        AtomicBoolean discarded = new AtomicBoolean(); // some connection could not write everything
        List<Thread> flushers = connections.shutdownAll(deadline, discarded);
        maybeTerminate();
        boolean drained = termination.awaitQuietly(deadline);
        long after = Nanos.within(EXIT_AFTER_FORCE_CLOSE); // past the grace, for the exits and the flushers together
        if (!drained) {
            close();
            termination.awaitQuietly(after);
        }
        for (Thread t : flushers) {
            t.join(Nanos.remaining(after));
        }
        // The flushers close at the deadline, so connections may have exited "in time" by force.
        return drained && !discarded.get() && stats().discarded() == discardedBefore;
    }

    @Override
    public boolean runUntilSignal(Duration grace) throws IOException, InterruptedException, AcceptException {
        return runUntilSignal(Duration.ZERO, grace);
    }

    @Override
    public boolean runUntilSignal(Duration drain, Duration grace)
            throws IOException, InterruptedException, AcceptException {
        // Refused now, not when the signal comes and the shutdown needs them.
        Objects.requireNonNull(drain, "drain");
        Objects.requireNonNull(grace, "grace");
        OwnThread.refuseWait(connections.isOwnThread(), "server", "runUntilSignal(grace)");
        lock.lock();
        boolean fresh;
        try {
            fresh = state == NEW;
        } finally {
            lock.unlock();
        }
        if (fresh) {
            start();
        }
        return SignalShutdown.await(SignalShutdown.of(this, localAddress, drain, grace));
    }

    @Override
    public CompletableFuture<Void> termination() {
        return termination.copy();
    }

    @Override
    public void awaitTermination() throws InterruptedException, AcceptException {
        OwnThread.refuseWait(connections.isOwnThread(), "server", "awaitTermination()");
        termination.await();
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException, AcceptException {
        Objects.requireNonNull(timeout, "timeout");
        OwnThread.refuseWait(connections.isOwnThread(), "server", "awaitTermination(timeout)");
        return termination.await(timeout);
    }

    @Override
    public String toString() {
        return "TcpServer[" + (localAddress == null ? config.address() : HostPort.format(localAddress)) + "]";
    }
}
