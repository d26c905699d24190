package io.stcp;

/**
 * The user's part of a connection: reads from it and reacts, usually by queueing replies on the
 * sender (Go: {@code ConnReaderFunc}).
 *
 * <p><b>Thread safety.</b> Called in a loop on the connection's reader thread, a virtual thread,
 * so blocking is fine and expected. It is never called concurrently for one connection; the same
 * instance serves every connection of a server, so keep per-connection state in locals or on the
 * connection ({@link Connection#attribute(AttributeKey)}, {@link Connection#attributeIfAbsent}).
 *
 * <p><b>Lifecycle.</b> A normal return means "call me again", while there is input to come.
 * Throwing ends the connection: the sender is closed and the exit hooks run. An
 * {@link java.io.EOFException} (the peer closed its side) ends it gracefully: replies already queued
 * are still written before the socket closes.
 *
 * <p><b>The end.</b> Once a call has read the peer's end of stream — a read threw
 * {@code EOFException} or returned -1 — there is nothing more to read: if that call returns
 * normally (it caught the exception), the connection ends at once, gracefully, as if it had thrown
 * it ({@link CloseReason#PEER_CLOSED}; {@link CloseReason#PEER_RESET} for a
 * {@link TlsTruncatedException}); the reader is not called again. Likewise, a call that returns
 * without consuming a byte after the connection was closed (by another thread) ends the loop. Reads
 * after the end keep finding it, at once, and so do reads after one failed (a close, graceful or
 * not, a reset, a shutdown's refusal: {@link java.nio.channels.ClosedChannelException}); a call that
 * catches that and reads on is stopped: after 1,000 such reads the next throws
 * {@link ReaderStalledException}, and every later one a {@link java.io.UncheckedIOException} of it,
 * so even a reader that swallows every {@link java.io.IOException} in a loop ends its call. The
 * connection ends with the reason of its end (the close's, the reset's), or
 * {@link CloseReason#PROTOCOL_ERROR} (a WARN line) after the peer's end of stream.
 *
 * <p><b>A graceful close</b> ({@link Sender#closeAfterFlush}, from this reader or any thread) ends
 * the reading at once: the reader is not called again, and a read in the call in progress that
 * needs more of the peer's bytes throws {@link java.nio.channels.ClosedChannelException} (see
 * {@link Connection#closeGracefully(java.time.Duration, Connection.Drain)}).
 *
 * <p><b>Progress.</b> Each call is expected to block reading the connection. A reader that returns
 * 1,000 times in a row within one second without consuming a byte is spinning; the connection is
 * then failed with {@link ReaderStalledException} and a WARN line, rather than burning a core.
 */
@FunctionalInterface
public interface ConnectionReader {

    /**
     * Reads and handles (typically) one message.
     *
     * @param sender the connection's sender, for replies
     * @param connection the connection to read from
     * @throws Exception to end the connection
     */
    void read(Sender sender, Connection connection) throws Exception;
}
