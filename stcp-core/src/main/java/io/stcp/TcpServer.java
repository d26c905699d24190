package io.stcp;

import io.stcp.internal.RealTcpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * A TCP server: accepts connections and runs each with a {@link ConnectionRunner} — a virtual
 * thread calling the {@link ConnectionReader} in a loop and one running the connection's
 * {@link Sender} (Go: {@code TcpServer}).
 *
 * <pre>{@code
 * TcpServer server = TcpServer.create(config, reader, SenderFactory.queue(1024)).start();
 * System.out.println("listening on " + server.address());
 * server.awaitTermination();
 * }</pre>
 *
 * <p><b>Lifecycle.</b> {@link #start()} binds synchronously — a bind failure is thrown from it and
 * {@link #address()} is valid as soon as it returns — then accepts in the background.
 * {@link #close()} stops listening and ends every live connection through the normal exit-hook
 * flow; {@link #shutdown(Duration)} does the same gracefully. {@link #termination()} completes once
 * the server is closed and every connection has exited.
 *
 * <p><b>Failure.</b> If the accept loop gives up ({@link ServerConfig#acceptMaxRetry()} failures
 * in a row, logged as {@code server.accept.failed} at ERROR), the server closes itself as
 * {@link #close()} does: it stops listening and ends every live connection, discarding what their
 * senders still queue. {@link #termination()} then completes exceptionally with the
 * {@link AcceptException}, still only once every connection has exited.
 *
 * <p><b>Thread safety.</b> All methods are safe from any thread.
 */
public interface TcpServer extends AutoCloseable {

    /** Creates a server (Go: {@code NewTcpServer}); nothing is bound until {@link #start()}. */
    static TcpServer create(ServerConfig config, ConnectionReader reader, SenderFactory senderFactory) {
        return new RealTcpServer(config, reader, senderFactory);
    }

    /**
     * Sets the hook run when a connection starts (Go: {@code SetStartHooker}); {@code null} clears
     * it. Applies to connections accepted afterwards.
     */
    TcpServer onConnectionStart(@Nullable ConnectionHook hook);

    /** Sets the hook run when a connection exits (Go: {@code SetExitHooker}); see {@link #onConnectionStart}. */
    TcpServer onConnectionExit(@Nullable ConnectionHook hook);

    /**
     * Registers this server's connections in {@code registry} (users, groups, fan-out sends; see
     * {@link ConnectionRegistry}): each connection is added just before its start hooks run and
     * removed, with its bindings, just after its exit hooks. {@code null} detaches it. Applies to
     * connections accepted afterwards, so set it before {@link #start()}. Without a registry the
     * server does no registry work at all.
     *
     * @throws IllegalArgumentException if {@code registry} was not made by {@link ConnectionRegistry#create()}
     */
    TcpServer registry(@Nullable ConnectionRegistry registry);

    /**
     * Binds and starts accepting (Go: {@code Run}).
     *
     * <p>On a Unix socket ({@code "unix:PATH"}) binding creates the socket file. A file already at
     * the path is handled so: if it is not a socket, it is left alone and start fails; if it is a
     * socket nobody listens on (left behind by a process that died), it is removed and replaced;
     * if a server listens on it, start fails — unless {@link ServerConfig#reusePort()} is set,
     * which atomically renames the new socket over it, so new clients reach this server while the
     * old one keeps the connections it has (a restart without downtime). With
     * {@link ServerConfig#unixSocketPermissions()} the file gets its permissions before it appears
     * under its name. {@link #close()} removes the file, unless another server has replaced it since.
     *
     * @return this server
     * @throws java.net.BindException if the address cannot be bound
     * @throws IllegalStateException if already started or closed, or if the system property
     *     {@code io.stcp.transport} names a transport that is not available (say {@code epoll}
     *     without its JVM flags: the message gives the reason), or if the class path has an
     *     slf4j-api older than 2.0 (the message names it and the fix), before anything is bound
     */
    TcpServer start() throws IOException;

    /**
     * The bound TCP address, with the real port when port 0 was asked for (Go: {@code Address}).
     *
     * @throws IllegalStateException before {@link #start()}, or if the server listens on a Unix
     *     socket (see {@link #localAddress()})
     */
    InetSocketAddress address();

    /**
     * The bound address of either kind: an {@link InetSocketAddress} (as {@link #address()}) or a
     * {@link java.net.UnixDomainSocketAddress} with the path clients connect to.
     *
     * @throws IllegalStateException before {@link #start()}
     */
    default SocketAddress localAddress() {
        return address();
    }

    /**
     * Live connections now (Go: {@code ConnCount}): a connection counts from its accept until its
     * exit hooks have returned, so inside an exit hook it still counts itself, and
     * {@link ServerConfig#maxConn()} bounds connections that are still cleaning up too. Once
     * {@link #termination()} has completed it is 0.
     */
    int connectionCount();

    /** A snapshot of this server's counters: connections, rejects, ends by reason, bytes, messages, queues. */
    ServerStats stats();

    /**
     * Connections accepted and run so far. With the PROXY protocol on, a connection counts once its
     * header shows a client (or, in optional mode, that it has none): health checks and refused
     * headers are not counted.
     */
    long acceptedCount();

    /**
     * Connections refused so far, for every reason: {@link ServerConfig#maxConn()}, the
     * {@link ServerConfig#ipLimits()}, the {@link ServerConfig#proxyProtocol()} checks.
     */
    long rejectedCount();

    /** Connections refused so far for {@code reason}. */
    default long rejectedCount(RejectReason reason) {
        return reason == RejectReason.MAX_CONN ? rejectedCount() : 0;
    }

    /**
     * Health checks seen so far: connections whose PROXY protocol header was the proxy's own (LOCAL),
     * or, where a header is required, a trusted proxy's that closed or reset before its first byte
     * (see {@link ProxyProtocol}). They are closed and not counted in {@link #acceptedCount()}, nor
     * in {@link #stats()}' connections that ended; {@link ServerStats#healthChecks()} has this count.
     */
    default long healthCheckCount() {
        return 0;
    }

    /**
     * Stops listening and ends every live connection, discarding what their senders still queue;
     * their exit hooks run on their own threads. Idempotent, any thread. It returns once the
     * listening socket is closed (connects to it are refused, its port can be bound again), before
     * it ends the connections, so that their clients cannot reconnect to it; it does not wait for
     * the connections: use {@link #awaitTermination(Duration)} for that.
     */
    @Override
    void close();

    /**
     * Shuts down gracefully: stops listening, lets the requests in progress finish, lets every
     * connection write what is queued and close ({@link CloseReason#SHUTDOWN}), and at the deadline
     * closes whatever is left.
     *
     * <p>A reader call that has already read part of a request when the shutdown reaches its
     * connection runs to its return: its puts, and other threads' puts to that sender, are taken
     * until then, and a reader waiting for the rest of its request goes on reading it (within its
     * frame timeout). Then the connection begins no new reader call, writes its queue, shuts its
     * output down and closes. A connection whose reader waits between requests — suspended, or
     * blocked in a read that has read nothing of its request — is shut down at once: new puts are
     * refused, its queue is written and it closes, and a request that reaches it after that is not
     * read; idle connections never hold the shutdown up. So is one whose start hook waits for the
     * peer having read nothing (a greeting waiting for the client's first word): its read ends
     * under it, and the hook's failure, the shutdown's doing, is logged at DEBUG. A reader that
     * serves many requests in one call, looping inside it, is in progress for as long as that call
     * runs.
     *
     * <p>Returns after every exit hook has run, or at most 5 s after the deadline
     * if some connection ignores the close (5 s in all, not per connection). A grace too long to
     * measure means no deadline. If the accept loop has given up, the connections are already
     * being closed without draining: this waits for them the same way, returns false, and does not
     * throw (see {@link #awaitTermination()}).
     *
     * <p>It waits for every reader call in progress, so it must be called from a thread of your own:
     * on a thread of one of this server's connections — a reader, or a connection start or exit
     * hook, which run on the reader's thread — it would wait for the very call it is part of, so
     * there it throws {@link IllegalStateException} at once and changes nothing. A reader that
     * shuts the server down on a message (an operator's command) starts a thread for it,
     * {@code Thread.ofVirtual().start(() -> server.shutdown(grace))}, and returns; or calls
     * {@link #close()}, which does not wait.
     *
     * <p>After a {@link #close()} (or an accept loop that gave up) it only waits for the
     * connections to exit, and returns false if that close discarded something accepted: as a
     * client's shutdown does, it reports on a close that came first.
     *
     * @return true if every connection drained and exited within {@code grace}, nothing accepted
     *     discarded, by it or by a {@link #close()} that came first; false if not, or if the
     *     accept loop gave up
     * @throws IllegalStateException if called on a thread of one of this server's connections
     */
    boolean shutdown(Duration grace) throws InterruptedException;

    /**
     * Stops listening and waits up to {@code timeout} for the connections to end by themselves,
     * touching none of them: the first half of a restart without downtime. With
     * {@link ServerConfig#reusePort()} another server already listens on the port, and new
     * clients go there, while the clients of this one finish what they are doing and leave.
     * Whatever is still connected at the timeout is left running: follow with
     * {@link #shutdown(Duration)}, which then closes it gracefully (and returns at once if nothing
     * is left). Safe from any thread but those of this server's connections (a reader, a
     * connection hook), where it would wait for its own connection and so throws
     * {@link IllegalStateException}, as {@link #shutdown(Duration)} does; after {@link #close()} it
     * just waits.
     *
     * @return true if every connection ended within {@code timeout} (the server has then terminated)
     * @throws IllegalStateException if called on a thread of one of this server's connections
     */
    default boolean drain(Duration timeout) throws InterruptedException {
        throw new UnsupportedOperationException("drain");
    }

    /**
     * Serves until SIGINT or SIGTERM, then {@linkplain #shutdown(Duration) shuts down gracefully}
     * (the requests in progress are answered, idle connections closed at once) and returns — the
     * last line of a {@code main}, which then returns and the JVM exits 0 (a shutdown hook cannot
     * do that: a JVM ended by a signal exits 130 or 143). Starts the server first if it is not
     * started. A second signal during the shutdown closes what is left at once, and what that
     * close discards makes the result false, even when the second signal closes the server before
     * the shutdown has begun (a process group's kill, as {@code timeout} sends, delivers one
     * SIGTERM twice). Returns early,
     * without a shutdown, if the server terminates by itself ({@link #close()} from elsewhere, or
     * the accept loop giving up).
     *
     * <p>The signals are taken from the call until it returns: several servers waiting at once
     * (each on a thread of its own) all hear each signal, and once none waits any more the signals
     * do what they did before — by default, end the JVM. A signal stays received: called after
     * one came (that another server's {@code runUntilSignal} heard, even one that has returned
     * since), this shuts the server down at once, within {@code grace}, instead of waiting
     * for another; only a signal after the call counts as the second one.
     *
     * <p>Uses the JDK's {@code sun.misc.Signal} (module {@code jdk.unsupported}, present in every
     * standard JDK, and required by the {@code io.stcp} module, so that an application on the
     * module path has it too); in a runtime without it (an application on the class path, in an
     * image made without that module), the shutdown runs from a shutdown hook instead and the exit
     * code is the JVM's.
     *
     * <p>Like {@link #shutdown(Duration)}, it throws {@link IllegalStateException} on a thread of one
     * of this server's connections.
     *
     * @return true if every connection drained within {@code grace}, nothing accepted discarded
     *     (by the shutdown, or by a second signal's close)
     * @throws AcceptException if the accept loop gave up
     * @throws IllegalStateException if called on a thread of one of this server's connections
     */
    boolean runUntilSignal(Duration grace) throws IOException, InterruptedException, AcceptException;

    /**
     * As {@link #runUntilSignal(Duration)}, but the signal first {@link #drain(Duration) drains} for
     * up to {@code drain} — stop listening, let the clients finish and leave — and then shuts down
     * with {@code grace}: the old process's side of a restart without downtime (see
     * {@link ServerConfig#reusePort()}). A zero or negative {@code drain} skips it. A second signal
     * closes what is left at once.
     *
     * @return true if every connection ended within the drain, or drained within {@code grace},
     *     and a second signal's close discarded nothing accepted
     */
    default boolean runUntilSignal(Duration drain, Duration grace)
            throws IOException, InterruptedException, AcceptException {
        if (drain.isNegative() || drain.isZero()) {
            return runUntilSignal(grace);
        }
        throw new UnsupportedOperationException("runUntilSignal with a drain");
    }

    /**
     * Completes once, when the server is closed and all connections have exited: normally after
     * {@link #close()} or {@link #shutdown(Duration)}, exceptionally with the
     * {@link AcceptException} if the accept loop gave up (which closes the server).
     */
    CompletableFuture<Void> termination();

    /**
     * Waits for {@link #termination()}.
     *
     * @throws AcceptException if the accept loop gave up; thrown once every connection has exited
     * @throws IllegalStateException if called on a thread of one of this server's connections
     *     (its reader, or a hook on its thread): it would wait for itself, as {@link #shutdown} would
     */
    void awaitTermination() throws InterruptedException, AcceptException;

    /**
     * Waits at most {@code timeout} for {@link #termination()}.
     *
     * @return false on timeout
     * @throws AcceptException if the accept loop gave up; thrown once every connection has exited
     * @throws IllegalStateException if called on a thread of one of this server's connections
     *     (its reader, or a hook on its thread): it would wait for itself, as {@link #shutdown} would
     */
    boolean awaitTermination(Duration timeout) throws InterruptedException, AcceptException;
}
