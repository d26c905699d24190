package io.stcp;

import java.time.Duration;
import java.util.List;

/**
 * Sends to one connection (Go: {@code IConnSender}). Readers, hooks and any other thread queue
 * messages here; the framework runs {@link #sendLoop()} on the connection's send thread to write
 * them.
 *
 * <p>stcp ships {@link QueueSender}; implement this interface for your own policy. A custom
 * sender writes through {@link Connection#write}, which enforces the write timeout.
 *
 * <p><b>Thread safety.</b> Every method except {@link #sendLoop()} is safe from any thread.
 *
 * <p><b>Failure.</b> Puts throw unchecked {@link SendException}s: {@link QueueFullException} when
 * the sender is at capacity, {@link SenderClosedException} after close. Both are cheap (no stack
 * trace). Thrown from a reader they end the connection, like a Go reader returning the error.
 */
public interface Sender {

    /** The connection this sender writes to (Go: {@code Conn()}). */
    Connection connection();

    /** The connection's metadata (Go: {@code MetaInfo()}). */
    default MetaInfo metaInfo() {
        return connection().metaInfo();
    }

    /** Replaces the connection's metadata; any type, any thread (Go: {@code SetMetaInfo}). */
    default void metaInfo(MetaInfo metaInfo) {
        connection().metaInfo(metaInfo);
    }

    /**
     * Queues {@code bytes} to be written in order (Go: {@code Put2Queue}). The array is not
     * copied: do not change it after the call.
     */
    void put(byte[] bytes);

    /**
     * Queues a message under an int key (Go: {@code Put2SendMap}). A conflating sender replaces a
     * still-queued message with the same key; this default treats it as {@link #put(byte[])}.
     */
    default void put(int key, byte[] bytes) {
        put(bytes);
    }

    /** Queues a message under a string key (Go: {@code Put2SendSMap}); see {@link #put(int, byte[])}. */
    default void put(String key, byte[] bytes) {
        put(bytes);
    }

    /**
     * Queues several int-keyed messages atomically (Go: {@code Put2SendMaps}).
     *
     * @throws UnsupportedOperationException by default: only keyed senders support batches
     */
    default void putAllIntKeyed(List<IntKeyed> messages) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not support keyed batches");
    }

    /**
     * Queues several string-keyed messages atomically (Go: {@code Put2SendSMaps}).
     *
     * @throws UnsupportedOperationException by default: only keyed senders support batches
     */
    default void putAllStringKeyed(List<StringKeyed> messages) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not support keyed batches");
    }

    /**
     * Closes the sender and the connection now, discarding whatever is still queued.
     * Idempotent, any thread, never throws.
     *
     * @return how many queued messages this call discarded (0 on later calls); a non-zero count is
     *     also logged
     */
    int close();

    /**
     * Closes after the queue is written (as {@link QueueSender} implements it; see below for the
     * default): new puts fail at once, the queued messages are written,
     * the output is shut down (FIN), then the connection closes. If that has not happened within
     * {@code timeout}, the connection is closed and the rest discarded. Blocks until done.
     * Must not be called from the send thread.
     *
     * <p>When the connection is run by a {@link ConnectionRunner} whose reader is busy with input
     * the peer is still sending, the close waits for the peer to close too (at most 2s, within
     * {@code timeout}) while the runner reads and discards that input: closing a socket with input
     * left unread makes the kernel reset the connection, which destroys the replies it has not
     * yet delivered.
     *
     * <p>The default implementation does <em>not</em> flush: it just calls {@link #close()},
     * discarding whatever is queued, and returns its count. A custom sender that should drain on a
     * graceful close must override this method: {@link TcpServer#shutdown(Duration)}, and a
     * {@link ConnectionRunner} whose peer closed its output, call it to drain.
     *
     * @return how many queued messages were discarded, 0 when everything was written
     */
    default int closeAfterFlush(Duration timeout) {
        return close();
    }

    /** Whether {@link #close()} (or a failure) has closed this sender. */
    boolean isClosed();

    /**
     * The send loop: writes queued messages until the sender is closed. Called by the framework
     * once, on the connection's send thread; never call it yourself. Returning or throwing ends
     * the connection.
     */
    void sendLoop() throws Exception;

    /**
     * An int-keyed message for {@link #putAllIntKeyed} (Go: {@code KeyIntBytesPair}).
     *
     * @param key the conflation key
     * @param bytes the message
     */
    record IntKeyed(int key, byte[] bytes) {}

    /**
     * A string-keyed message for {@link #putAllStringKeyed} (Go: {@code KeyStrBytesPair}).
     *
     * @param key the conflation key
     * @param bytes the message
     */
    record StringKeyed(String key, byte[] bytes) {}
}
