package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.CloseReason;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionRegistry;
import io.stcp.ConnectionReader;
import io.stcp.ProxyProtocol;
import io.stcp.RejectReason;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.ServerStats;
import io.stcp.TcpServer;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
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
 * after {@link #close()} has walked {@link #connections} sees {@link #endingConnections} and exits at once
 * (both are volatile/CHM writes made before the other side reads them).
 *
 * <p>Admission, on the accept thread before anything is spent on a connection: a peer outside the
 * trusted proxies where a PROXY header is required is refused; then, unless the peer is a trusted
 * proxy (whose clients are known only after the header: {@link ProxyProtocolLayer} applies the
 * per-address limits then, on the connection's thread), the {@link IpGate}; then the slot. A
 * connection admitted by the gate remembers its address ({@link RealConnection#limitedAddress})
 * and releases it after its exit hooks, with its slot.
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
    private volatile RealConnectionRegistry registry; // null: no registry work at all

    private final ReentrantLock lock = new ReentrantLock();
    private int state = NEW;                    // guarded by lock
    private ServerSocketChannel listener;       // guarded by lock
    private UnixSockets.Listener unixListener;  // guarded by lock; null for TCP
    private volatile InetSocketAddress address; // null for a Unix socket
    private volatile SocketAddress localAddress;
    private IpGate gate;                        // set by start(), before the accept thread starts; null: no limits
    private ConnectionContext context;          // set by start(), before the accept thread starts
    private TlsWatch tlsWatch;                  // guarded by lock; null without a watch
    private volatile boolean closed;
    /** Set by close() and shutdown() before they walk the connections; not by drain(), which leaves them be. */
    private volatile boolean endingConnections;
    private final AtomicBoolean terminating = new AtomicBoolean(); // set once, by the one that ends the server
    private volatile boolean acceptEnded;
    private volatile AcceptException acceptFailure;

    private final AtomicInteger live = new AtomicInteger();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong healthChecks = new AtomicLong();
    private final Rejections rejections;
    private final LongSupplier nanoClock;
    private final List<Cidr> trustedProxies;
    private final UnaryOperator<AcceptLoop.Acceptor> acceptors;
    private final Map<Long, RealConnectionRunner> connections = new ConcurrentHashMap<>();
    private final StatsCounters stats = new StatsCounters();
    private volatile AcceptLoop acceptLoop;
    private final CompletableFuture<Void> termination = new CompletableFuture<>();

    public RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        this(config, reader, senderFactory, UnaryOperator.identity(), System::nanoTime);
    }

    /**
     * A server with test seams.
     *
     * @param acceptors wraps the listener's accept call, e.g. to inject accept failures
     * @param nanoClock the clock of the rate-limited {@code server.reject} lines and the per-address rates
     */
    RealTcpServer(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory,
                  UnaryOperator<AcceptLoop.Acceptor> acceptors, LongSupplier nanoClock) {
        this.config = Objects.requireNonNull(config, "config");
        this.reader = Objects.requireNonNull(reader, "reader");
        this.senderFactory = Objects.requireNonNull(senderFactory, "senderFactory");
        this.acceptors = Objects.requireNonNull(acceptors, "acceptors");
        this.nanoClock = nanoClock;
        this.rejections = new Rejections(config.maxConn(), nanoClock);
        this.trustedProxies = Cidr.parseAll(config.proxyProtocol().trustedProxies());
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
    public TcpServer registry(ConnectionRegistry registry) {
        this.registry = registry == null ? null : RealConnectionRegistry.of(registry);
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
            ServerSocketChannel ch;
            UnixSockets.Listener unix = null;
            try {
                if (HostPort.isUnix(config.address())) {
                    unix = UnixSockets.listen(HostPort.unixPath(config.address()), config.effectiveBacklog(),
                            config.unixSocketPermissions(), config.reusePort());
                    ch = unix.channel();
                } else {
                    ch = listenTcp();
                }
            } catch (IOException | RuntimeException e) {
                BindException be = new BindException("cannot listen on \"" + config.address() + "\": " + e.getMessage());
                be.initCause(e);
                throw be;
            }
            try {
                SocketAddress bound = unix != null ? UnixDomainSocketAddress.of(unix.path()) : ch.getLocalAddress();
                String name = bound instanceof InetSocketAddress inet ? String.valueOf(inet.getPort())
                        : unix.path().getFileName().toString();
                Sweeper sweeper = new Sweeper("stcp-sweeper-" + name);
                gate = config.ipLimits().isEnabled() ? new IpGate(config.ipLimits(), sweeper, nanoClock) : null;
                List<TransportLayer> layers = new ArrayList<>();
                if (config.proxyProtocol().isEnabled()) {
                    layers.add(new ProxyProtocolLayer(config.proxyProtocol(), new ProxiedClients())); // first: next to the socket
                }
                layers.addAll(TlsLayer.forServer(config)); // then TLS, inside the PROXY header
                context = ConnectionContext.of(config, sweeper, new InboundBudget(config.effectiveInboundBudget()), source,
                        new ExitLog(System::nanoTime), layers);
                AcceptLoop loop = new AcceptLoop(acceptors.apply(ch::accept), this::onAccepted, config.acceptDelay(),
                        config.acceptMaxDelay(), config.acceptMaxRetry(), AcceptLoop.Sleeper.REAL, () -> closed);
                acceptLoop = loop;
                listener = ch;
                unixListener = unix;
                address = bound instanceof InetSocketAddress inet ? inet : null;
                localAddress = bound;
                state = RUNNING;
                Threads.start("stcp-accept-" + name, () -> acceptLoop(loop));
                tlsWatch = TlsWatch.start(RealTlsConfig.of(config.tls()), HostPort.format(bound));
            } catch (IOException | RuntimeException | Error e) {
                // nothing may stay bound when start() fails: the caller sees the failure, nothing else
                listener = null;
                unixListener = null;
                address = null;
                localAddress = null;
                state = NEW;
                ch.close();
                if (unix != null) {
                    UnixSockets.removeFile(unix);
                }
                throw e;
            }
        } finally {
            lock.unlock();
        }
        Log.SERVER.atInfo().setMessage("server.start").addKeyValue("address", HostPort.format(localAddress))
                .addKeyValue("maxConn", config.maxConn()).addKeyValue("transport", Transports.name())
                .addKeyValue("proxyProtocol", config.proxyProtocol().mode()).addKeyValue("reusePort", config.reusePort())
                .addKeyValue("tls", config.tls() != null)
                .log();
        return this;
    }

    /** A TCP listener bound to the configured address, with SO_REUSEPORT if asked. */
    private ServerSocketChannel listenTcp() throws IOException {
        InetSocketAddress bindAddress = HostPort.parse(config.address()).toBindAddress();
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            if (bindAddress.isUnresolved()) {
                throw new java.net.UnknownHostException("unknown host \"" + bindAddress.getHostString() + "\"");
            }
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            if (config.reusePort()) {
                if (!ch.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)) {
                    throw new UnsupportedOperationException("reusePort: SO_REUSEPORT is not supported on this platform");
                }
                ch.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                MigrateCheck.warnIfOff(config.address());
            }
            ch.bind(bindAddress, config.effectiveBacklog());
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private void acceptLoop(AcceptLoop loop) {
        try {
            loop.run();
        } catch (AcceptException e) {
            Log.SERVER.atError().setMessage("server.accept.failed").addKeyValue("address", HostPort.format(localAddress))
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
        SocketAddress peer;
        try {
            peer = channel.getRemoteAddress();
        } catch (IOException e) {
            closeQuietly(channel); // gone already
            return;
        }
        InetAddress ip = peer instanceof InetSocketAddress inet ? inet.getAddress() : null;
        boolean viaProxy = config.proxyProtocol().isEnabled() && ProxyProtocolLayer.trusts(trustedProxies, peer);
        if (config.proxyProtocol().mode() == ProxyProtocol.Mode.REQUIRED && !viaProxy) {
            reject(channel, RejectReason.PROXY_UNTRUSTED, peer, null);
            return;
        }
        InetAddress limited = null;
        if (gate != null && ip != null && !viaProxy) {
            RejectReason r = gate.admit(ip);
            if (r != null) {
                reject(channel, r, peer, null);
                return;
            }
            limited = gate.tracks() ? ip : null;
        }
        if (!takeSlot()) {
            if (limited != null) {
                gate.release(limited);
            }
            reject(channel, RejectReason.MAX_CONN, peer, null);
            return;
        }
        boolean running = false;
        try {
            running = run(channel, limited, config.proxyProtocol().isEnabled());
        } finally {
            if (!running) {
                // The peer went away before its connection could start, or starting it threw (the
                // accept loop logs that and carries on): the slot is ours to give back.
                closeQuietly(channel);
                if (limited != null) {
                    gate.release(limited);
                }
                live.decrementAndGet();
                maybeTerminate();
            }
        }
    }

    /** Counts, logs (rate-limited) and closes; the close comes last, so a peer that sees it sees both done. */
    private void reject(SocketChannel channel, RejectReason reason, SocketAddress peer, String detail) {
        countReject(reason, peer, detail);
        closeQuietly(channel);
    }

    /** Counts a refusal (in {@link #rejections} and the stats, by {@link RejectReason#key()}) and logs it, rate-limited. */
    private void countReject(RejectReason reason, SocketAddress peer, String detail) {
        stats.rejected(reason.key());
        rejections.reject(reason, peer, detail);
    }

    /** What the PROXY layer reports, on the connections' threads. */
    private final class ProxiedClients implements ProxyProtocolLayer.Server {
        @Override
        public RejectReason admitClient(RealConnection connection, InetAddress client) {
            if (gate != null && client != null) {
                RejectReason r = gate.admit(client);
                if (r != null) {
                    countReject(r, connection.remoteAddress(), null);
                    return r;
                }
                if (gate.tracks()) {
                    connection.limitedAddress = client;
                }
            }
            accepted.incrementAndGet();
            return null;
        }

        @Override
        public void healthCheck() {
            healthChecks.incrementAndGet();
        }

        @Override
        public void rejected(RejectReason reason, SocketAddress remote, String detail) {
            countReject(reason, remote, detail);
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
    private boolean run(SocketChannel channel, InetAddress limited, boolean countedByLayer) {
        RealConnection connection;
        try {
            if (unixListener == null) {
                channel.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            }
            connection = ConnectionOpener.open(channel, context);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        if (unixListener != null) {
            connection.ends().local(localAddress); // the path clients use, not the name it was bound under
        }
        connection.limitedAddress = limited;
        long id = connection.id();
        RealConnectionRegistry reg = registry;
        RealConnectionRunner runner = new RealConnectionRunner(connection, reader, senderFactory,
                () -> onExited(connection, reg));
        if (reg != null) {
            runner.addStartHook(reg::add); // first, so the user's start hook can bind the connection
        }
        ConnectionHook start = startHook;
        ConnectionHook exit = exitHook;
        if (start != null) {
            runner.addStartHook(start);
        }
        if (exit != null) {
            runner.addExitHook(exit);
        }
        if (!countedByLayer) {
            accepted.incrementAndGet(); // else once its PROXY header shows a client
        }
        connections.put(id, runner);
        if (endingConnections) {
            runner.exit(CloseReason.SHUTDOWN);
        }
        try {
            runner.start();
        } catch (RuntimeException | Error e) {
            connections.remove(id);
            if (!countedByLayer) {
                accepted.decrementAndGet();
            }
            connection.limitedAddress = null; // released by onAccepted
            connection.close();
            throw e;
        }
        return true;
    }

    private void onExited(RealConnection connection, RealConnectionRegistry reg) {
        if (reg != null) {
            reg.remove(connection.id()); // after the exit hooks, which still see the connection's bindings
        }
        RealConnectionRunner runner = connections.remove(connection.id());
        if (runner != null) {
            stats.ended(runner, runner.connection().closeReason());
        }
        InetAddress limited = connection.limitedAddress;
        if (limited != null) {
            gate.release(limited);
        }
        live.decrementAndGet();
        maybeTerminate();
    }

    private void maybeTerminate() {
        if (closed && acceptEnded && live.get() == 0 && terminating.compareAndSet(false, true)) {
            AcceptException failure = acceptFailure;
            // logged before the termination completes: whoever waits for it sees the line first
            Log.SERVER.atInfo().setMessage("server.stop").addKeyValue("address", HostPort.format(localAddress))
                    .addKeyValue("accepted", accepted.get()).addKeyValue("rejected", rejections.total())
                    .addKeyValue("acceptFailed", failure != null).log();
            if (failure == null) {
                termination.complete(null);
            } else {
                termination.completeExceptionally(failure);
            }
        }
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
        return live.get();
    }

    @Override
    public long acceptedCount() {
        return accepted.get();
    }

    @Override
    public ServerStats stats() {
        AcceptLoop loop = acceptLoop;
        return stats.snapshot(live.get(), accepted.get(), loop == null ? 0 : loop.errors(), connections.values(),
                config.tls());
    }

    @Override
    public long rejectedCount() {
        return rejections.total();
    }

    @Override
    public long rejectedCount(RejectReason reason) {
        return rejections.count(reason);
    }

    @Override
    public long healthCheckCount() {
        return healthChecks.get();
    }

    /** Addresses in the per-address table now (0 without one); for tests. */
    int trackedAddressCount() {
        IpGate g = gate;
        return g == null ? 0 : g.trackedCount();
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
            if (unixListener != null) {
                UnixSockets.removeFile(unixListener);
            }
            if (gate != null) {
                gate.close();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        stopListening();
        endingConnections = true;
        for (RealConnectionRunner runner : connections.values()) {
            runner.exit(CloseReason.SHUTDOWN);
        }
        maybeTerminate();
    }

    @Override
    public boolean drain(Duration timeout) throws InterruptedException {
        stopListening();
        maybeTerminate();
        return awaitQuietly(Nanos.within(timeout));
    }

    @Override
    public boolean shutdown(Duration grace) throws InterruptedException {
        stopListening();
        endingConnections = true;
        long deadline = Nanos.within(grace);
        List<Thread> flushers = new ArrayList<>();
        long discardedBefore = stats().discarded(); // stcp's senders count every message they could not write
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
        return drained && !discarded.get() && stats().discarded() == discardedBefore;
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
    public boolean runUntilSignal(Duration grace) throws IOException, InterruptedException, AcceptException {
        return runUntilSignal(Duration.ZERO, grace);
    }

    @Override
    public boolean runUntilSignal(Duration drain, Duration grace)
            throws IOException, InterruptedException, AcceptException {
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
        java.util.concurrent.CountDownLatch signalled = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger signals = new java.util.concurrent.atomic.AtomicInteger();
        Runnable onSignal = () -> {
            if (signals.incrementAndGet() > 1) {
                close(); // a second signal: stop waiting for the drain
            }
            signalled.countDown();
        };
        if (!Signals.handle(onSignal)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                onSignal.run();
                awaitQuietlyUninterruptibly();
            }, "stcp-shutdown-hook"));
        }
        termination.whenComplete((ok, failure) -> signalled.countDown());
        signalled.await();
        if (signals.get() == 0) {
            awaitTermination(); // terminated by itself: rethrows an accept failure
            return true;
        }
        Log.SERVER.atInfo().setMessage("server.signal").addKeyValue("address", HostPort.format(localAddress))
                .addKeyValue("drain", io.stcp.Durations.format(drain)).addKeyValue("grace", io.stcp.Durations.format(grace))
                .log();
        if (drain.isPositive() && drain(drain)) {
            return true;
        }
        return shutdown(grace);
    }

    /** For the shutdown hook: lets the JVM end only once the shutdown has completed. */
    private void awaitQuietlyUninterruptibly() {
        try {
            termination.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // the accept loop gave up; nothing more to wait for
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
        return "TcpServer[" + (localAddress == null ? config.address() : HostPort.format(localAddress)) + "]";
    }
}
