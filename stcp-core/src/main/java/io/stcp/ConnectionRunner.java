package io.stcp;

import io.stcp.internal.RealConnectionRunner;
import java.time.Duration;

/**
 * Runs one connection (Go: {@code ConnHandler} / {@code NewConnRunner}): a reader thread that calls
 * the {@link ConnectionReader} in a loop and a send thread that runs {@link Sender#sendLoop()}, both
 * virtual threads, plus start and exit hooks. {@link TcpServer} uses one per accepted connection;
 * use one directly for a socket you connected yourself.
 *
 * <p><b>Lifecycle.</b> {@link #start()} starts the reader thread, which runs the start hooks, then
 * starts the send thread and calls the reader until it throws, the sender closes, or
 * {@link #exit()} is called. Then the sender is closed, both loops are awaited, and the exit hooks
 * run exactly once. When the reader throws {@link java.io.EOFException} (the peer closed its
 * output) the queued replies are flushed first, bounded by the connection's write timeout (5s when
 * it has none).
 *
 * <p><b>Thread safety.</b> All methods are safe from any thread. Hooks must be added before
 * {@link #start()}.
 */
public interface ConnectionRunner {

    /** A runner for {@code sender}'s connection, reading with {@code reader}. Not started yet. */
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

    /** Starts the connection's threads; has no effect if already started. */
    void start();

    /**
     * Ends the connection: closes the sender (discarding what is queued) and the socket, and
     * interrupts the reader if it is inside the reader function. The exit hooks then run on the
     * reader thread. Idempotent, any thread, never throws, does not wait.
     */
    void exit();

    /** The sender, or {@code null} while a server's sender factory has not made it yet. */
    Sender sender();

    /** The connection. */
    Connection connection();

    /** Whether the connection has ended and its exit hooks have run. */
    boolean isExited();

    /** Waits until {@link #isExited()}; returns false on timeout. */
    boolean awaitExit(Duration timeout) throws InterruptedException;
}
