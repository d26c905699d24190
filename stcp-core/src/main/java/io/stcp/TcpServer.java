package io.stcp;

import io.stcp.internal.RealTcpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
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
    TcpServer onConnectionStart(ConnectionHook hook);

    /** Sets the hook run when a connection exits (Go: {@code SetExitHooker}); see {@link #onConnectionStart}. */
    TcpServer onConnectionExit(ConnectionHook hook);

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
     * @return this server
     * @throws java.net.BindException if the address cannot be bound
     * @throws IllegalStateException if already started or closed
     */
    TcpServer start() throws IOException;

    /**
     * The bound address, with the real port when port 0 was asked for (Go: {@code Address}).
     *
     * @throws IllegalStateException before {@link #start()}
     */
    InetSocketAddress address();

    /**
     * Live connections now (Go: {@code ConnCount}): a connection counts from its accept until its
     * exit hooks have returned, so inside an exit hook it still counts itself, and
     * {@link ServerConfig#maxConn()} bounds connections that are still cleaning up too. Once
     * {@link #termination()} has completed it is 0.
     */
    int connectionCount();

    /** A snapshot of this server's counters: connections, rejects, ends by reason, bytes, messages, queues. */
    ServerStats stats();

    /** Connections accepted and run so far. */
    long acceptedCount();

    /** Connections refused because {@link ServerConfig#maxConn()} was reached. */
    long rejectedCount();

    /**
     * Stops listening and ends every live connection, discarding what their senders still queue;
     * their exit hooks run on their own threads. Idempotent, any thread, does not wait: use
     * {@link #awaitTermination(Duration)} for that.
     */
    @Override
    void close();

    /**
     * Shuts down gracefully: stops listening, lets every connection write what is already queued
     * (new puts are refused) and close ({@link CloseReason#SHUTDOWN}), and at the deadline closes
     * whatever is left. Returns after every exit hook has run, or at most 5 s after the deadline
     * if some connection ignores the close (5 s in all, not per connection). A grace too long to
     * measure means no deadline. If the accept loop has given up, the connections are already
     * being closed without draining: this waits for them the same way, returns false, and does not
     * throw (see {@link #awaitTermination()}).
     *
     * @return true if every connection drained and exited within {@code grace}; false if not, or if
     *     the accept loop gave up
     */
    boolean shutdown(Duration grace) throws InterruptedException;

    /**
     * Serves until SIGINT or SIGTERM, then shuts down gracefully and returns — the last line of a
     * {@code main}, which then returns and the JVM exits 0 (a shutdown hook cannot do that: a JVM
     * ended by a signal exits 130 or 143). Starts the server first if it is not started. A second
     * signal during the shutdown closes what is left at once. Returns early, without a shutdown,
     * if the server terminates by itself ({@link #close()} from elsewhere, or the accept loop
     * giving up).
     *
     * <p>Uses the JDK's {@code sun.misc.Signal} (module {@code jdk.unsupported}, present in every
     * standard JDK); in a runtime without it, the shutdown runs from a shutdown hook instead and
     * the exit code is the JVM's.
     *
     * @return true if every connection drained within {@code grace}
     * @throws AcceptException if the accept loop gave up
     */
    boolean runUntilSignal(Duration grace) throws IOException, InterruptedException, AcceptException;

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
     */
    void awaitTermination() throws InterruptedException, AcceptException;

    /**
     * Waits at most {@code timeout} for {@link #termination()}.
     *
     * @return false on timeout
     * @throws AcceptException if the accept loop gave up; thrown once every connection has exited
     */
    boolean awaitTermination(Duration timeout) throws InterruptedException, AcceptException;
}
