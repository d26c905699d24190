package io.stcp;

import java.time.Duration;
import java.util.List;

/**
 * Sends to one connection (Go: {@code IConnSender}). Readers, hooks and any other thread queue
 * messages here; the framework runs {@link #sendLoop()} on the connection's send thread to write
 * them (no such thread when {@link #needsSendThread()} says none is needed).
 *
 * <p>stcp ships {@link QueueSender}; implement this interface for your own policy. A custom
 * sender writes through {@link Connection#write}, which serializes writes, enforces the write
 * timeout and keeps the write-idle time heartbeats use. It may write on the caller's thread and
 * have no send loop at all (the default {@link #sendLoop()} returns at once), or queue and write
 * from {@link #sendLoop()}. For a graceful end it drains through
 * {@link Connection#closeGracefully(Duration, Connection.Drain)}, which does the rest (FIN,
 * waiting for the peer, close) as {@link QueueSender} does; {@link Connection#isReaderThread()}
 * tells which puts come from the connection's own reader (for inline writes or backpressure).
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
     * Queues {@code bytes} to be written in order (Go: {@code Put2Queue}).
     *
     * <p><b>The array is not copied</b>: the sender holds it until it is written, so do not change
     * it after the call — a buffer you reuse for the next read would send its new content. Pass a
     * copy (or use {@link #put(byte[], int, int)}, which copies). One immutable array (say, a
     * constant {@code PONG}) may be put on any number of connections at once.
     */
    void put(byte[] bytes);

    /**
     * Queues a <b>copy</b> of {@code bytes[off .. off+len)} (Go's {@code buf[:n]} idiom): the array
     * may be reused as soon as this returns.
     *
     * @throws IndexOutOfBoundsException if the range is not inside the array
     */
    default void put(byte[] bytes, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, bytes.length);
        put(java.util.Arrays.copyOfRange(bytes, off, off + len));
    }

    /**
     * Queues a <b>copy</b> of the remaining bytes of {@code buffer} and consumes them (its position
     * moves to its limit); the buffer may be reused as soon as this returns.
     */
    default void put(java.nio.ByteBuffer buffer) {
        byte[] copy = new byte[buffer.remaining()];
        buffer.get(copy);
        put(copy);
    }

    /**
     * Queues one message made of several arrays, written back to back with no copy — a header,
     * a value and a trailer, say. It counts as one message against a message limit, and its bytes
     * are the sum. As with {@link #put(byte[])}, the arrays are not copied and must not change.
     * The default copies them into one array; {@link QueueSender} does not.
     */
    default void putParts(byte[]... parts) {
        int length = 0;
        for (byte[] p : parts) {
            length = Math.addExact(length, p.length);
        }
        byte[] joined = new byte[length];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, joined, at, p.length);
            at += p.length;
        }
        put(joined);
    }

    /**
     * Reads the next {@code n} bytes of {@code from} and queues them, after {@code header}, as one
     * message: the way to forward or echo a body without handling it. Call it on {@code from}'s
     * reader thread (it reads from {@code from}, as {@link Connection#readBytes(byte[], int)}
     * does, within its read deadlines); {@code from} may be this sender's connection or another.
     *
     * <p>The default is {@code put(from.readBytes(header, n))}. {@link QueueSender} sends a body of
     * medium size (4 KiB up to 64 KiB with its header) that has already arrived without copying
     * it, when it is a reply on its own connection: from the connection's read buffer, the header
     * written over the bytes read just before the body (a length prefix, say), which are consumed
     * already. Otherwise it holds such a body in pooled direct memory instead of a new array,
     * shared with the connection's other such messages: no garbage, and no copy of the JDK's when
     * several are written at once. A body of 64 KiB or more with its header is read, once it has all
     * arrived, straight from the socket into pooled direct memory by the epoll transport: never an
     * array, which would be cleared before the socket filled it (behind a PROXY-protocol header
     * too). A rest of more than 64 KiB waits in the kernel for that, as {@code readBytes} waits; a
     * shorter one still arriving is read as it comes, into an array, so that a peer still sending
     * it never meets the read timeout of one long wait. Where the pool has no room, or the
     * transport cannot (the JDK's sockets, TLS), it is read into an array. The header is copied;
     * it may be reused as soon as this returns.
     *
     * @throws java.io.IOException as {@code from}'s reads do (end of stream, read timeout); nothing
     *     is queued then. A length that cannot be is the peer's protocol error, as for
     *     {@link Connection#readBytes(byte[], int)}: {@link io.stcp.framing.CorruptFrameException}
     *     if {@code n} is negative, {@link io.stcp.framing.FrameTooLongException} if the message
     *     would be longer than an array can be
     */
    default void relay(Connection from, byte[] header, int n) throws java.io.IOException {
        put(from.readBytes(header, n));
    }

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
     * @return how many accepted messages were discarded and not reported by an earlier call —
     *     by this close, or before it (a write that failed) — so that every message a sender could
     *     not write is reported once; 0 on later calls. The connection's {@code conn.exit} line
     *     carries the counts of the closes stcp makes (at the connection's end, by
     *     {@link ConnectionRunner#exit()}, by a server's shutdown), not that of a close the
     *     application calls itself, which only its caller is told
     */
    int close();

    /**
     * Closes after the queue is written: new puts fail at once, the queued messages are written,
     * the output is shut down (FIN), the peer is given up to 2 s to close too (closing a socket
     * with input left unread makes the kernel reset it, which destroys replies not yet delivered;
     * the connection's reader thread reads and drops that input meanwhile), then the connection
     * closes. Whatever has not happened within {@code timeout} is cut short: the connection is
     * closed and the rest discarded. Blocks until done. Must not be called from the send thread.
     * From its start the connection's reader gets no more input: its reads end, as
     * {@link Connection#closeGracefully(Duration, Connection.Drain)} says, and it is not called again.
     *
     * <p>The default suits a sender with nothing queued (one that writes on the caller's thread):
     * {@link Connection#closeGracefully(Duration)} — FIN, wait for the peer, close — then
     * {@link #close()}, which discards and counts anything still held. A sender with a queue
     * overrides it to drain through {@link Connection#closeGracefully(Duration, Connection.Drain)}.
     *
     * @return how many queued messages were discarded, 0 when everything was written
     */
    default int closeAfterFlush(Duration timeout) {
        connection().closeGracefully(timeout);
        return close();
    }

    /** Whether {@link #close()} (or a failure) has closed this sender. */
    boolean isClosed();

    /**
     * The send loop, called by the framework once, on the connection's send thread; never call it
     * yourself. A queueing sender writes its queue here until it is closed. Returning means the
     * loop is done and nothing more will be written from it; the connection lives on until it is
     * closed (a sender that writes on the caller's thread needs no loop: the default returns at
     * once). Throwing ends the connection.
     */
    default void sendLoop() throws Exception {}

    /**
     * Whether {@link #sendLoop()} needs a thread of its own. Return false when it returns at once —
     * the sender writes on its callers' threads or starts its own — and the framework starts no
     * send thread for the connection: one thread start and its memory less per connection. The
     * default is true, so that an overriding {@code sendLoop()} always runs.
     */
    default boolean needsSendThread() {
        return true;
    }

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
