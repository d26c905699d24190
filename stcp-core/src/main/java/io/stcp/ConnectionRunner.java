package io.stcp;

import io.stcp.internal.RealConnectionRunner;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Runs one connection (Go: {@code ConnHandler} / {@code NewConnRunner}): a reader thread that calls
 * the {@link ConnectionReader} in a loop and a send thread that runs {@link Sender#sendLoop()} (none
 * for a sender that needs none, {@link Sender#needsSendThread()}), both virtual threads, plus start
 * and exit hooks. {@link TcpServer} uses one per accepted connection;
 * use one directly for a socket you connected yourself.
 *
 * <p><b>Lifecycle.</b> {@link #start()} starts the reader thread, which runs the start hooks, then
 * starts the send thread (if any) and calls the reader until it throws, the sender closes, or
 * {@link #exit()} is called. The end's {@link CloseReason} is then decided once — the first cause
 * known, from whichever side — and it says what happens to the replies still queued: written
 * first ({@link CloseReason#flushes()}: the peer closed its output, a protocol error, a timeout of
 * the reader, a graceful shutdown), bounded by the connection's write timeout (5 s when it has
 * none), or discarded and counted (a reset, a write timeout, a slow consumer, a close). One
 * {@code conn.exit} line is logged (DEBUG; WARN for failures, rate-limited), with what every close
 * of the sender discarded: those on other threads ({@link #exit()} included) are waited for, up
 * to 2 s, to count it. Then both loops are
 * awaited and the exit hooks run exactly once, seeing {@link Connection#closeReason()}.
 *
 * <p>One exception to "after both loops": a custom send loop that ignores both the close and an
 * interrupt for 2 s is left behind with a WARN line {@code conn.send.stuck}, so that the exit
 * hooks (and the server's connection slot) do not wait for it forever.
 *
 * <p><b>Thread safety.</b> All methods are safe from any thread. Hooks must be added before
 * {@link #start()}.
 */
public interface ConnectionRunner {

    /**
     * A runner for {@code sender}'s connection, reading with {@code reader}. Not started yet.
     *
     * @throws IllegalArgumentException if the sender's connection was not made by stcp
     *     ({@link Connection#of(java.nio.channels.SocketChannel)})
     */
    static ConnectionRunner create(ConnectionReader reader, Sender sender) {
        return RealConnectionRunner.forSender(reader, sender);
    }

    /**
     * Adds a start hook.
     *
     * @throws IllegalStateException after {@link #start()}
     */
    ConnectionRunner addStartHook(ConnectionHook hook);

    /**
     * Adds an exit hook.
     *
     * @throws IllegalStateException after {@link #start()}
     */
    ConnectionRunner addExitHook(ConnectionHook hook);

    /**
     * Starts the connection's threads; has no effect if already started. From here on the
     * connection is read on its reader thread only: a read on another thread throws
     * {@link IllegalStateException} (see {@link Connection}), until the connection has ended.
     *
     * @throws IllegalStateException if an application thread is reading the connection (one no
     *     runner read yet, {@link Connection#of}), or a graceful close on another thread lingers on
     *     it, reading the peer's input itself, with nothing started: the reader thread would read
     *     beside that read. Start it once that read has returned (on a connection closed meanwhile,
     *     it starts and ends, as on any closed connection).
     */
    void start();

    /**
     * Ends the connection ({@link CloseReason#CLOSED} unless it has a reason already): closes the
     * sender (discarding what is queued) and the socket, and interrupts the reader thread while it
     * runs code for this connection — the sender factory, the start hooks or the reader — so that a
     * blocked call of theirs returns. The exit hooks then run on the reader thread. An exit before
     * the reader thread has called a server's sender factory means it is never called: with no
     * sender, neither the start nor the exit hooks run (as when the factory fails). Idempotent, any
     * thread, never throws, does not wait.
     */
    void exit();

    /** The sender, or {@code null} while a server's sender factory has not made it yet. */
    @Nullable Sender sender();

    /** The connection. */
    Connection connection();

    /** Whether the connection has ended and its exit hooks have run. */
    boolean isExited();

    /** Waits until {@link #isExited()}; returns false on timeout. */
    boolean awaitExit(Duration timeout) throws InterruptedException;
}
