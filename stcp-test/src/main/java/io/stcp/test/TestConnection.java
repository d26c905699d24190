package io.stcp.test;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionHook;
import io.stcp.ConnectionReader;
import io.stcp.ConnectionRegistry;
import io.stcp.Durations;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.ServerConfig;
import io.stcp.internal.ConnectionContext;
import io.stcp.internal.ConnectionOpener;
import io.stcp.internal.MemoryTransport;
import io.stcp.internal.Nanos;
import io.stcp.internal.RealConnection;
import io.stcp.internal.RealConnectionRegistry;
import io.stcp.internal.RealConnectionRunner;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Runs a {@link ConnectionReader} against bytes in memory, with no sockets: the reader, its
 * sender (from your {@link SenderFactory}), your start and exit hooks and, if you give it one, its
 * {@link ConnectionRegistry} membership run exactly as under a {@link io.stcp.TcpServer} — same
 * runner, same connection, same lifecycle ({@link #builder}) — but the peer is this object. Feed it input in chunks (each arrives as one read, so split frames can be tested), read
 * what the connection wrote, end or reset the input, make a read time out, stall writes, and check
 * how the connection ended.
 *
 * <pre>{@code
 * try (TestConnection peer = TestConnection.start(READER, SenderFactory.queue(16))) {
 *     peer.feed(new byte[] {0, 0}, new byte[] {0, 2, 'h', 'i'}); // a frame split in two
 *     assertThat(peer.read(6)).containsExactly(0, 0, 0, 2, 'h', 'i');
 *     peer.endInput();
 *     assertThat(peer.awaitClose()).isEqualTo(CloseReason.PEER_CLOSED);
 * }
 * }</pre>
 *
 * <p><b>Users and groups.</b> A reader that binds its connection to a user or a group of a
 * {@link ConnectionRegistry} is tested with connections that are members of one, as a server's
 * are ({@link Builder#registry}): added before the start hooks, reached by the registry's sends,
 * removed with their bindings after the exit hooks.
 *
 * <pre>{@code
 * ConnectionRegistry registry = ConnectionRegistry.create();
 * try (TestConnection alice = TestConnection.builder(CHAT).registry(registry).start();
 *      TestConnection bob = TestConnection.builder(CHAT).registry(registry).start()) {
 *     alice.feed("/nick alice\n");                    // the reader binds her: registry.bindUser(sender, "alice")
 *     ...
 *     registry.sendToUser("alice", "hi\n".getBytes());  // through her sender, to the peer
 *     assertThat(alice.readText(3)).isEqualTo("hi\n");
 *     alice.endInput();
 *     alice.awaitClose();                             // out of the registry, with her bindings
 *     assertThat(registry.user("alice")).isEmpty();
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> The reader runs on its own virtual thread, as on a server; every method here
 * may be called from the test's thread. Waits are bounded by {@link #timeout(Duration)} (10 s by
 * default) and fail with an {@link AssertionError} naming what did not happen, so a broken reader
 * fails the test instead of hanging it.
 *
 * <p><b>Timeouts.</b> The connection has those of a connection outside a server: a write timeout
 * of 5 s (what {@link #stallWrites} runs into), a frame timeout of 30 s, no read timeout and no
 * first-frame timeout, and the inbound budget such connections share ({@link io.stcp.Connection#of}).
 * {@link Builder#config} gives it a server's instead, and its inbound budget;
 * a start hook sets the connection's own ({@code s -> s.connection().readTimeout(Duration.ofSeconds(20))}).
 * {@link #timeoutNextRead()} makes a read time out without waiting for any of them.
 *
 * <p>The peer's address is {@code 127.0.0.1:40000} and the local one {@code 127.0.0.1:9000}
 * unless {@link Builder#peerAddress} and {@link Builder#localAddress} say otherwise;
 * {@link Connection#channel()} is not available (there is no socket).
 */
public final class TestConnection implements AutoCloseable {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40_000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 9_000);

    private final MemoryTransport transport = new MemoryTransport();
    private final RealConnection connection;
    private final CountDownLatch exited = new CountDownLatch(1);
    private final CompletableFuture<Sender> sender = new CompletableFuture<>();
    private final RealConnectionRunner runner;
    private Duration timeout = Duration.ofSeconds(10);
    // Where the connection's thread is, for close() to say what keeps it from ending.
    private volatile boolean startHooksReturned;
    private volatile boolean exitHooksBegan;

    private TestConnection(Builder b) {
        connection = ConnectionOpener.inMemory(transport, b.peer, b.local, b.context);
        runner = RealConnectionRunner.of(connection, b.reader, b.factory, () -> {
            sender.complete(null); // the factory failed: there will be none
            exited.countDown();
        });
        if (b.registry != null) {
            runner.registerIn(b.registry); // first, as on a server: every start hook finds the connection registered
        }
        runner.addStartHook(sender::complete); // right after the factory (and the registry): sender() is usable
        for (ConnectionHook hook : b.startHooks) {
            runner.addStartHook(hook);
        }
        runner.addStartHook(s -> startHooksReturned = true);
        runner.addExitHook(s -> exitHooksBegan = true);
        for (ConnectionHook hook : b.exitHooks) {
            runner.addExitHook(hook);
        }
    }

    /** Starts {@code reader} with a {@link io.stcp.QueueSender} of 1,024 messages. */
    public static TestConnection start(ConnectionReader reader) {
        return builder(reader).start();
    }

    /**
     * Starts {@code reader} on a new connection in memory, with the sender {@code factory} makes
     * and {@code startHooks} run first, as a server would; the {@link #builder} has the other
     * settings.
     */
    public static TestConnection start(ConnectionReader reader, SenderFactory factory, ConnectionHook... startHooks) {
        Builder b = builder(reader).senderFactory(factory);
        for (ConnectionHook hook : startHooks) {
            b.onConnectionStart(hook);
        }
        return b.start();
    }

    /**
     * A builder for a connection that runs {@code reader}: its sender factory, its start and exit
     * hooks, and the registry it is a member of.
     */
    public static Builder builder(ConnectionReader reader) {
        return new Builder(reader);
    }

    /**
     * The settings of a {@link TestConnection}, those a {@link io.stcp.TcpServer} gives each of its
     * connections. Not thread-safe: build on one thread; one builder may start several connections.
     */
    public static final class Builder {
        private final ConnectionReader reader;
        private SenderFactory factory = SenderFactory.queue(1024);
        private @Nullable RealConnectionRegistry registry;
        private final List<ConnectionHook> startHooks = new ArrayList<>();
        private final List<ConnectionHook> exitHooks = new ArrayList<>();
        private SocketAddress peer = PEER;
        private SocketAddress local = LOCAL;
        private ConnectionContext context = ConnectionContext.standalone();

        private Builder(ConnectionReader reader) {
            this.reader = Objects.requireNonNull(reader, "reader");
        }

        /**
         * Gives the connections this builder starts what a server with {@code config} gives each of
         * its connections: its write, read-idle, first-frame and frame timeouts, which run in real
         * time as on a server, and its inbound budget, one for all of them as for a server's
         * connections (so readers of large values can be tested against it). The settings of the
         * listening socket (address, accepting, connection and IP limits, backlog) have nothing to
         * apply to here. Default: the timeouts of a connection outside a server, and the inbound
         * budget such connections share ({@link io.stcp.Connection#of}).
         *
         * @throws IllegalArgumentException if {@code config} has TLS or the PROXY protocol, which
         *     need a socket (test them with a {@link io.stcp.TcpServer} on loopback)
         */
        public Builder config(ServerConfig config) {
            this.context = ConnectionContext.inMemory(Objects.requireNonNull(config, "config"));
            return this;
        }

        /** The peer's address the connections report ({@link Connection#remoteAddress()}); default {@code 127.0.0.1:40000}. */
        public Builder peerAddress(SocketAddress address) {
            this.peer = Objects.requireNonNull(address, "peerAddress");
            return this;
        }

        /** The local address the connections report ({@link Connection#localAddress()}); default {@code 127.0.0.1:9000}. */
        public Builder localAddress(SocketAddress address) {
            this.local = Objects.requireNonNull(address, "localAddress");
            return this;
        }

        /** Makes the connection's sender, on its thread, as a server's factory does; default: a queue of 1,024 messages. */
        public Builder senderFactory(SenderFactory factory) {
            this.factory = Objects.requireNonNull(factory, "senderFactory");
            return this;
        }

        /**
         * Makes the connection a member of {@code registry}, as {@link io.stcp.TcpServer#registry} does
         * with a server's connections, by the same code: it is added just before its start hooks run
         * (so they, and the reader, can bind it to a user and groups), fan-out sends reach it through
         * its sender (what they put is {@link #read read} from the connection like any reply), and it
         * is removed, with every binding, just after its exit hooks: by the time
         * {@link #awaitClose()} or {@link #close()} returns. Several test connections may share one
         * registry, as a server's connections do. {@code null}: none (the default).
         *
         * @throws IllegalArgumentException if {@code registry} was not made by {@link ConnectionRegistry#create()}
         */
        public Builder registry(@Nullable ConnectionRegistry registry) {
            this.registry = registry == null ? null : RealConnectionRegistry.of(registry);
            return this;
        }

        /**
         * Adds a hook run when the connection starts, before the reader is first called (after the
         * hooks added before it), as {@link io.stcp.TcpServer#onConnectionStart} does.
         */
        public Builder onConnectionStart(ConnectionHook hook) {
            startHooks.add(Objects.requireNonNull(hook, "onConnectionStart"));
            return this;
        }

        /**
         * Adds a hook run when the connection exits (after the hooks added before it), as
         * {@link io.stcp.TcpServer#onConnectionExit} does: exactly once, after the start hooks and
         * after both the read and the send loop have ended, on the connection's thread; it sees
         * {@link Connection#closeReason()} and, with a {@link #registry registry}, the connection's
         * user and groups still. {@link #awaitClose()}, {@link #isClosed()} and {@link #close()} wait
         * for the exit hooks.
         */
        public Builder onConnectionExit(ConnectionHook hook) {
            exitHooks.add(Objects.requireNonNull(hook, "onConnectionExit"));
            return this;
        }

        /** Starts a new connection in memory with these settings. */
        public TestConnection start() {
            TestConnection t = new TestConnection(this);
            t.runner.start();
            return t;
        }
    }

    /**
     * How long the waiting methods wait before they fail the test; default 10 s. 0: they fail at
     * once unless what they wait for has happened already; a duration longer than about 292 years
     * waits that long.
     *
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public TestConnection timeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: " + Durations.format(timeout) + " (expected: >= 0)");
        }
        this.timeout = timeout;
        return this;
    }

    /** The timeout in nanoseconds, at most {@code Long.MAX_VALUE}. */
    private long timeoutNanos() {
        return Nanos.clamp(timeout);
    }

    /** The timeout as the failures say it: {@code 10s}, {@code 200ms}. */
    private String timeoutText() {
        return Durations.format(timeout);
    }

    // ---------------------------------------------------------------- input

    /**
     * The peer sends {@code chunks}, one read each (a reader asking for less reads them in parts).
     *
     * @throws IllegalStateException after {@link #endInput()} or {@link #resetInput()}: the peer sends nothing more
     */
    public TestConnection feed(byte[]... chunks) {
        for (byte[] chunk : chunks) {
            transport.feed(chunk);
        }
        return this;
    }

    /** The peer sends {@code text} in UTF-8, as one chunk. */
    public TestConnection feed(String text) {
        return feed(text.getBytes(StandardCharsets.UTF_8));
    }

    /** The peer shuts its output down: after what was fed, the reader sees end of stream. */
    public TestConnection endInput() {
        transport.endInput();
        return this;
    }

    /** The peer resets the connection: after what was fed, reads fail with "Connection reset". */
    public TestConnection resetInput() {
        transport.resetInput();
        return this;
    }

    /**
     * The reader's next read that would wait fails at once with a
     * {@link io.stcp.ReadTimeoutException}, as if the earliest deadline in force had passed, and
     * says what that deadline's real timeout says: {@code "no data within the read timeout of
     * 20s"} for a {@link Connection#readTimeout(Duration) read timeout} of 20 s, {@code "read
     * deadline passed"} for a {@link Connection#readDeadline read deadline}. Inside a frame, the
     * frame timeout (30 s, counted from the frame's first wait) may be the earliest: then it is a
     * {@link io.stcp.FrameTimeoutException}, which ends the connection ({@link CloseReason#FRAME_TIMEOUT})
     * even if the reader catches it, as a real one does. With no deadline in force, where no real read could time out, the
     * message says it was simulated by the test kit.
     */
    public TestConnection timeoutNextRead() {
        transport.timeoutNextRead();
        return this;
    }

    // ---------------------------------------------------------------- output

    /**
     * The next {@code n} bytes the connection wrote, waiting for them.
     *
     * @throws AssertionError if they were not all written within the timeout, or the connection
     *     closed first
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public byte[] read(int n) throws InterruptedException {
        byte[] b = transport.takeOutput(n, timeoutNanos());
        if (b.length < n) {
            // Closed, the transport gave up waiting at once: say so, though the exit hooks may still run.
            throw new AssertionError("expected " + n + " bytes written within " + timeoutText() + ", got " + b.length
                    + (transport.isOpen() ? "" : " before the connection closed (" + connection.closeReason() + ")"));
        }
        return b;
    }

    /** The next {@code n} bytes written, as UTF-8 text; see {@link #read(int)}. */
    public String readText(int n) throws InterruptedException {
        return new String(read(n), StandardCharsets.UTF_8);
    }

    /** Everything written and not read yet, without waiting. */
    public byte[] readAvailable() {
        return transport.takeOutput();
    }

    /**
     * While stalled, the connection's writes wait — until the write timeout (5 s unless the
     * connection's is set), when they fail as against a peer that stopped reading
     * ({@link CloseReason#WRITE_TIMEOUT}).
     */
    public TestConnection stallWrites(boolean stalled) {
        transport.stallWrites(stalled);
        return this;
    }

    /** Whether the connection shut its output down (a graceful close does, after its last reply). */
    public boolean isOutputShut() {
        return transport.isOutputShut();
    }

    // ---------------------------------------------------------------- the connection

    /** The connection the reader reads. */
    public Connection connection() {
        return connection;
    }

    /**
     * The connection's sender, once the factory has made it (and the connection is in its
     * {@link Builder#registry registry}, if it has one).
     *
     * @throws AssertionError if it was not made within the timeout (the factory failed or blocks)
     */
    public Sender sender() throws InterruptedException {
        Sender s;
        try {
            s = sender.get(timeoutNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            s = null;
        }
        if (s == null) {
            throw new AssertionError("no sender: the factory failed or did not return within " + timeoutText()
                    + (connection.closeCause() == null ? "" : ": " + connection.closeCause()));
        }
        return s;
    }

    /** Whether the connection has ended and its exit hooks have run. */
    public boolean isClosed() {
        return exited.getCount() == 0;
    }

    /**
     * Waits until the connection has ended and its exit hooks have run.
     *
     * @return why it ended
     * @throws AssertionError if it did not end within the timeout
     */
    public CloseReason awaitClose() throws InterruptedException {
        if (!exited.await(timeoutNanos(), TimeUnit.NANOSECONDS)) {
            throw new AssertionError("the connection did not end within " + timeoutText(),
                    new TimeoutException("still open"));
        }
        return connection.closeReason();
    }

    /** Why the connection ended, or null while it is open. */
    public @Nullable CloseReason closeReason() {
        return connection.closeReason();
    }

    /** The exception behind {@link #closeReason()}, or null. */
    public @Nullable Throwable closeCause() {
        return connection.closeCause();
    }

    /**
     * Ends the connection ({@link io.stcp.ConnectionRunner#exit()}) and waits for its exit hooks.
     * Throws no checked exception, so a try-with-resources needs no {@code throws}: an interrupt
     * while waiting is kept (the thread stays interrupted) and fails the test with an
     * {@link AssertionError}.
     *
     * @throws AssertionError if the connection did not end within the timeout: its sender
     *     factory, a start hook or an exit hook has not returned (the message says which), or its
     *     reader ignores the exit (it goes on after the {@link java.io.IOException} of the closed
     *     connection, or the interrupt) and is still running
     */
    @Override
    public void close() {
        runner.exit();
        boolean ended;
        try {
            ended = exited.await(timeoutNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for the connection to exit", e);
        }
        if (!ended) {
            throw new AssertionError("the connection did not end within " + timeoutText() + " of close(): " + stuckIn());
        }
    }

    /** What the connection's thread has not finished, as far as this can tell. */
    private String stuckIn() {
        if (!sender.isDone()) {
            return "the sender factory has not returned";
        }
        if (!startHooksReturned) {
            return "a start hook has not returned";
        }
        if (exitHooksBegan) {
            return "an exit hook has not returned";
        }
        return "its reader still runs (does it go on after the IOException of the closed connection, or the interrupt?)";
    }
}
