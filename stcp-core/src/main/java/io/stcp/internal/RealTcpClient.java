package io.stcp.internal;

import io.stcp.ClientConfig;
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
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The {@link TcpClient} implementation: its parts, put together.
 *
 * <p><b>Threads.</b> One dialler thread (virtual, {@code stcp-client-ADDRESS}) runs the
 * {@link DialLoop}: dial, run the connection, wait for its exit, back off, again. Puts go through
 * the {@link Outbox}, which the connection that is up joins.
 *
 * <p><b>Parts.</b> {@link ClientLifecycle}: the client's state and its changes — started, the
 * connection a close must end, a shutdown's drain, the failed attempts, closed —, asked for by
 * the dial loop, a close and a shutdown. {@link ClientShutdown}: the graceful shutdown, and what
 * it reports. {@link ClientTermination}: when the client has ended, and the waits for it.
 * {@link DialLoop}: the dialler's loop, its back-off and the hooks.
 */
public final class RealTcpClient implements TcpClient {
    private final ClientConfig config;
    private final Outbox outbox;
    private final ClientTermination termination = new ClientTermination();
    private final ClientLifecycle lifecycle;
    private final ClientShutdown shutdown;
    private final DialLoop dialLoop;

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
        this.lifecycle = new ClientLifecycle(outbox, termination);
        this.shutdown = new ClientShutdown(lifecycle, outbox, termination, config.address());
        this.dialLoop = new DialLoop(lifecycle, config, Objects.requireNonNull(reader, "reader"),
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
        beforeStart();
        lifecycle.start(dialerName(), dialLoop::run);
        return this;
    }

    private void beforeStart() {
        Log.requireSlf4j2(); // before anything is dialled: every line logged needs SLF4J 2
        JfrEvents.register(); // before the first connection, which would wait for it
    }

    private String dialerName() {
        return "stcp-client-" + config.address();
    }

    // ---------------------------------------------------------------- sending (any thread)

    @Override
    public boolean isConnected() {
        return outbox.up() != null;
    }

    @Override
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
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

    /** Takes no lock: called by the outbox under its own lock. */
    private NotConnectedException notConnected() {
        return new NotConnectedException("not connected to " + config.address() + ": " + lifecycle.notConnectedWhy());
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

    @Override
    public void close() {
        lifecycle.close();
    }

    @Override
    public boolean shutdown(Duration grace) throws InterruptedException {
        Objects.requireNonNull(grace, "grace");
        OwnThread.refuseWait(lifecycle.isOwnThread(), "client", "shutdown(grace)");
        return shutdown.shutdown(grace);
    }

    @Override
    public boolean runUntilSignal(Duration grace) throws InterruptedException, ConnectException {
        // Refused now, not when the signal comes and the shutdown needs them.
        Objects.requireNonNull(grace, "grace");
        OwnThread.refuseWait(lifecycle.isOwnThread(), "client", "runUntilSignal(grace)");
        beforeStart();
        lifecycle.startIfNew(dialerName(), dialLoop::run); // a new client starts; one started or closed is as it is
        return SignalShutdown.await(SignalShutdown.of(this, config.address(), grace));
    }

    @Override
    public CompletableFuture<Void> termination() {
        return termination.copy();
    }

    @Override
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        OwnThread.refuseWait(lifecycle.isOwnThread(), "client", "awaitTermination(timeout)");
        return termination.await(Nanos.within(timeout));
    }

    @Override
    public String toString() {
        return "TcpClient[" + config.address() + "]";
    }
}
