package io.stcp;

import io.stcp.internal.ConnectionOpener;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * One TCP connection as the reader and sender see it: buffered blocking reads with timeouts,
 * serialized writes with a write timeout, addresses, metadata, and the raw channel.
 *
 * <p><b>Thread safety.</b> A connection is read by one thread: its reader thread, the one that
 * calls the {@link ConnectionReader} and runs the start hooks. While a {@link ConnectionRunner}
 * runs it (a server's or a client's connection, from the runner's start to its end), a read on any
 * other thread throws {@link IllegalStateException} at once, even while the reader waits for that
 * thread: it would otherwise wait behind the reader's reads (for the JDK channel's read lock,
 * which no read timeout bounds), or take bytes meant for the reader. Read on the reader thread,
 * and hand what was read to other threads, not the connection. A connection no runner
 * runs ({@link #of(SocketChannel)} before its runner starts) may be read by any thread, one at a
 * time: a read while another thread's read is under way throws {@link IllegalStateException} at
 * once, taking none of its bytes. Everything else is safe from any thread. Writes from several threads are serialized:
 * each {@code write} call is written whole, never interleaved with another call or with the
 * sender's batches.
 *
 * <p><b>Failure.</b> A read that hits end of stream in the middle of a value throws
 * {@link java.io.EOFException}; a read that waits longer than the read timeout or past the read
 * deadline throws {@link ReadTimeoutException} and leaves the connection usable. A frame not
 * completed in time throws {@link FrameTimeoutException}. A write that blocks longer than the
 * write timeout closes the connection and throws {@link WriteTimeoutException}.
 *
 * <p><b>Lifecycle.</b> A connection is open until it is closed, at once ({@link #close()}) or
 * gracefully ({@link #closeGracefully(Duration, Drain)}: the sender's queue is written, the output
 * shut down, the peer given a moment to close too). {@link #closeReason()} tells why it ended —
 * what an exit hook wants to know.
 *
 * <p>Connections are made by stcp ({@link #of(SocketChannel)}, {@link TcpServer}); this interface
 * is not meant to be implemented elsewhere.
 */
public interface Connection {

    /**
     * Wraps a connected, blocking {@link SocketChannel}, for example one the application dialled,
     * so that a {@link ConnectionRunner} can run it. It uses the transport the JVM runs stcp on
     * (the {@code stcp-epoll} transport when it is available, which makes the channel
     * non-blocking: use the methods here rather than blocking I/O on {@link #channel()}). Close
     * the connection rather than {@code channel}; if the application closes {@code channel} all
     * the same (a try-with-resources block ending first, say), stcp's own system calls on epoll
     * still name that socket alone: there they work on a duplicate of its descriptor, which only
     * stcp closes (a connection made here holds two descriptors on epoll, one elsewhere). The
     * write timeout starts at {@link ServerConfig#DEFAULT_WRITE_TIMEOUT} (5s). Under a runner, a
     * frame must be complete within {@link ServerConfig#DEFAULT_FRAME_TIMEOUT} (30s) of its first
     * byte, as on a server with the default {@link ServerConfig#frameTimeout()}; the application's
     * own reads, with no runner, have no frame timeout. There is no read timeout:
     * {@link #readTimeout(Duration)} or {@link #readDeadline} bound a read that waits.
     *
     * <p>Large values grow within an inbound budget that every connection made here shares, as a
     * server's connections share its {@link ServerConfig#inboundBudget()}: a frame announced
     * longer than the whole budget fails at once ({@link io.stcp.framing.FrameTooLongException},
     * whatever the reader's own limit allows), and past half of it an array grows to a quarter more
     * than the bytes that arrived, not four times them. Its size is the system property
     * {@code io.stcp.standalone.inboundBudget} in bytes, read when the first such connection is
     * made; unset or 0 (the default): an eighth of the JVM's maximum heap, as a server's default.
     *
     * @throws IllegalArgumentException if the channel is not connected or not blocking
     * @throws IllegalStateException if {@code io.stcp.standalone.inboundBudget} is not a number of
     *     bytes &gt;= 0
     */
    static Connection of(SocketChannel channel) {
        return ConnectionOpener.wrap(channel);
    }

    /** A process-unique id, the {@code conn} field of every log line about this connection. */
    long id();

    /**
     * The peer's address. Behind a proxy that sent a PROXY protocol header
     * ({@link ServerConfig#proxyProtocol()}) it is the client's address from the header (a header
     * that names none, of an unknown address family, leaves the proxy's); the proxy's is
     * {@link #proxiedBy()}. On a Unix socket it is a
     * {@link java.net.UnixDomainSocketAddress} (clients' sockets are usually unnamed: an empty path).
     */
    SocketAddress remoteAddress();

    /**
     * The peer's address as text, the way Go prints it and stcp logs it: {@code 127.0.0.1:9000},
     * {@code [::1]:9000} (the JDK's {@code toString()} gives {@code /127.0.0.1:9000}).
     */
    String remoteAddressText();

    /**
     * The address of the proxy that relayed this connection with a PROXY protocol header (the
     * socket's peer), or empty for a direct connection. See {@link ServerConfig#proxyProtocol()}.
     */
    default Optional<SocketAddress> proxiedBy() {
        return Optional.empty();
    }

    /** The PROXY protocol header this connection started with, TLVs included, or empty. */
    default Optional<ProxyHeader> proxyHeader() {
        return Optional.empty();
    }

    /**
     * The user and group of the process at the other end of a Unix domain socket
     * ({@code SO_PEERCRED}), or empty on TCP or where the operating system does not tell. Read once,
     * when first asked.
     */
    default Optional<PeerCredentials> peerCredentials() {
        return Optional.empty();
    }

    /** The local address, or {@code null} if unknown. */
    @Nullable SocketAddress localAddress();

    /**
     * The raw channel, for socket options and anything stcp does not wrap. Reading from it
     * directly bypasses this connection's buffer (bytes already buffered would be skipped) and
     * writing to it bypasses the write lock and timeout; prefer the methods here.
     *
     * <p>On every transport:
     * <ul>
     *   <li>its {@code close()} is this connection's {@link #close()}: the connection ends at once
     *       ({@link CloseReason#CLOSED}), the peer sees the close, the exit hooks run once. It is
     *       closed ({@code isOpen()} false) once the connection is, however the connection ended;</li>
     *   <li>its blocking mode is the transport's (blocking on the JDK's TCP sockets, non-blocking
     *       otherwise): {@code configureBlocking} to the other mode throws
     *       {@link java.nio.channels.IllegalBlockingModeException}; registering it with a selector
     *       throws ({@link java.nio.channels.IllegalSelectorException}, or that one while blocking);</li>
     *   <li>{@code shutdownOutput()} and {@code shutdownInput()} act on the socket at once, behind the
     *       connection's back: after the first the peer sees the end of the output and the
     *       connection's writes fail; after the second its reads come to an end of the stream;</li>
     *   <li>{@code socket()} is the JDK's socket adaptor of the channel underneath, for its options
     *       and addresses, except that its {@code close()}, and its streams', are this connection's
     *       {@link #close()} too, and its {@code getChannel()} is this channel; one socket for the
     *       channel's life.</li>
     * </ul>
     * No application call on the channel makes stcp read or write another socket: on epoll, where
     * stcp makes its own system calls on the channel's descriptor (one per connection; for
     * {@link #of(SocketChannel)}, a duplicate of it), only the connection's close closes it, once
     * no call of stcp's on it is under way, so the number cannot pass to another client's socket
     * while stcp may still use it. An interrupt of a thread in a
     * read or write of this channel does not close it there (the JDK closes a channel on an
     * interrupt only in a call that may block, and this one does not); on the JDK's TCP sockets,
     * blocking, it closes the socket, as the JDK's channel does. Closing the socket by its
     * descriptor's number (a native {@code close}) is outside this contract, as on Netty: stcp
     * could then read or write whichever socket the kernel gives the number to next.
     *
     * @throws UnsupportedOperationException on a connection in memory (stcp-test), which has no socket
     */
    SocketChannel channel();

    /** The current metadata; initially a {@link BasicMetaInfo} of the peer address. */
    MetaInfo metaInfo();

    /** Replaces the metadata; any type, any time, any thread. */
    void metaInfo(MetaInfo metaInfo);

    /** The value stored under {@code key}, or {@code null}. Any thread. */
    <T> @Nullable T attribute(AttributeKey<T> key);

    /** Stores {@code value} under {@code key}; {@code null} removes it. Any thread. */
    <T> void attribute(AttributeKey<T> key, @Nullable T value);

    /**
     * The value stored under {@code key}, storing {@code initial}'s value first if there is none
     * (atomically: two threads get the same value). {@code initial} runs on the calling thread,
     * holding no lock: it may read and store other attributes of this connection, and may block.
     * Threads that race on the same key may each call it; the first value stored is kept and
     * returned to all of them (as {@link ClassValue} does).
     *
     * @throws NullPointerException if {@code initial} returns null
     */
    <T> T attributeIfAbsent(AttributeKey<T> key, java.util.function.Supplier<? extends T> initial);

    /**
     * What the TLS handshake settled — protocol, cipher suite, the client's verified certificates,
     * ALPN protocol, SNI host name — from the start hooks on; empty on a plain connection (see
     * {@link ServerConfig#tls()}). Any thread.
     */
    default java.util.Optional<TlsInfo> tls() {
        return java.util.Optional.empty();
    }

    // ---- reads: reader thread only (another thread's read throws IllegalStateException: see the class comment) ----

    /**
     * Reads up to {@code len} bytes: whatever is buffered, else blocks for at least one byte.
     *
     * @return the number of bytes read, or -1 at end of stream
     */
    int read(byte[] b, int off, int len) throws IOException;

    /**
     * Reads up to and including the next {@code delimiter} byte, at most {@code len} bytes: what
     * is buffered up to the delimiter, else blocks for at least one byte. For scanning delimited
     * frames a buffer at a time instead of a byte at a time; nothing after the delimiter is
     * consumed. The default implementation reads byte by byte; stcp's connections scan their
     * buffer.
     *
     * @return the number of bytes read, the last of which is {@code delimiter} if it was found
     *     (0 only when {@code len} is 0), or -1 at end of stream
     */
    default int readUntil(byte delimiter, byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        int n = 0;
        while (n < len && (n == 0 || buffered() > 0)) {
            if (read(b, off + n, 1) < 0) {
                return n == 0 ? -1 : n;
            }
            if (b[off + n++] == delimiter) {
                break;
            }
        }
        return n;
    }

    /**
     * Reads one line of text or protocol header — a step inside a reader for protocols that mix
     * lines with binary payloads (RESP, HTTP/1, SMTP, memcached): bytes up to a {@code \n}, which
     * is not returned, nor a {@code \r} right before it. Memory follows the bytes received.
     *
     * @param maxLength the most bytes the line may have, terminator excluded (positive)
     * @return the line, or {@code null} at end of stream before its first byte
     * @throws io.stcp.framing.FrameTooLongException if no {@code \n} comes within {@code maxLength}
     *     bytes (+ the terminator); the rest of that line is left unread, its {@code \n} always
     *     (at most {@code maxLength + 2} bytes of it are taken), so skipping to the next
     *     {@code \n} lands on the next line
     * @throws java.io.EOFException at end of stream in the middle of a line
     * @throws ReadTimeoutException if a read waits too long; after the line's first byte it ends
     *     the connection even if caught, since the bytes taken are gone and the next read would
     *     take the rest for a line (a read after it in the same call finds the end of stream)
     * @throws IllegalArgumentException if {@code maxLength} is not positive
     */
    byte @Nullable [] readLine(int maxLength) throws IOException;

    /** Reads exactly {@code b.length} bytes. */
    default void readFully(byte[] b) throws IOException {
        readFully(b, 0, b.length);
    }

    /** Reads exactly {@code len} bytes into {@code b} at {@code off}. */
    void readFully(byte[] b, int off, int len) throws IOException;

    /**
     * Reads exactly {@code n} bytes into a new array. Memory follows the bytes received, not
     * {@code n}: the array starts at what has arrived and grows as more does (within the server's
     * inbound budget, see {@link ServerConfig#inboundBudget()}), so a length a peer announces but
     * never sends costs nothing.
     *
     * <p>{@code n} is usually a length the peer sent, so a wrong one is the peer's fault: it ends
     * the connection as {@link CloseReason#PROTOCOL_ERROR} unless the reader catches it.
     *
     * @throws io.stcp.framing.CorruptFrameException if {@code n} is negative
     * @throws io.stcp.framing.FrameTooLongException if {@code n} exceeds the largest array
     */
    byte[] readBytes(int n) throws IOException;

    /**
     * Reads exactly {@code n} bytes into a new array that starts with a copy of {@code prefix}: the
     * array is {@code prefix.length + n} bytes, the value at {@code prefix.length}. For a frame that
     * is kept or sent on whole, its header included: one array, read into once, and written with
     * one call (where {@link Sender#putParts} would gather a header and a body). Memory follows the
     * bytes received, as for {@link #readBytes(int)}.
     *
     * @throws io.stcp.framing.CorruptFrameException if {@code n} is negative
     * @throws io.stcp.framing.FrameTooLongException if the two lengths together exceed the largest array
     */
    byte[] readBytes(byte[] prefix, int n) throws IOException;

    /** Reads one byte as 0..255. */
    int readUnsignedByte() throws IOException;

    /** Reads a 2-byte big-endian signed value. */
    short readShort() throws IOException;

    /** Reads a 2-byte little-endian signed value. */
    short readShortLE() throws IOException;

    /** Reads a 2-byte big-endian unsigned value. */
    default int readUnsignedShort() throws IOException {
        return Short.toUnsignedInt(readShort());
    }

    /** Reads a 2-byte little-endian unsigned value. */
    default int readUnsignedShortLE() throws IOException {
        return Short.toUnsignedInt(readShortLE());
    }

    /** Reads a 4-byte big-endian signed value. */
    int readInt() throws IOException;

    /** Reads a 4-byte little-endian signed value. */
    int readIntLE() throws IOException;

    /** Reads a 4-byte big-endian unsigned value. */
    default long readUnsignedInt() throws IOException {
        return Integer.toUnsignedLong(readInt());
    }

    /** Reads a 4-byte little-endian unsigned value. */
    default long readUnsignedIntLE() throws IOException {
        return Integer.toUnsignedLong(readIntLE());
    }

    /** Reads an 8-byte big-endian value. */
    long readLong() throws IOException;

    /** Reads an 8-byte little-endian value. */
    long readLongLE() throws IOException;

    /** Bytes that can be read now without blocking (already buffered). */
    int buffered();

    /**
     * Whether more input is known to be waiting: bytes {@linkplain #buffered() buffered}, or bytes
     * that have arrived on the socket and are not read yet, as far as the transport can tell
     * without waiting. The epoll transport can always tell, and asks the socket only when its
     * readiness state says it may hold something; the JDK transport only when the last read
     * filled its buffer. A reader may use it to tell whether the peer has sent its next request
     * already. Reader thread only.
     */
    default boolean inputWaiting() {
        return buffered() > 0;
    }

    /**
     * Whether the calling thread is the one running this connection's reader (the
     * {@link ConnectionRunner}'s reader thread). A sender may use it to write the reader's replies
     * inline, or to make the reader wait for room instead of failing (backpressure).
     */
    boolean isReaderThread();

    /** Total bytes consumed by the read methods so far. */
    long bytesRead();

    /**
     * Sets the longest time one blocking read may wait for data (an idle timeout, Go:
     * {@code SetReadDeadline(now + d)} renewed on every read). Zero or negative disables it
     * (the default); null is refused ({@link NullPointerException}). Millisecond resolution; but
     * on the epoll transport a reader waiting between frames holds no thread, and that wait is
     * ended by the server's periodic checks: never early, at most a quarter of the timeout (one
     * second at most) late. A change applies from the next wait on.
     */
    void readTimeout(Duration timeout);

    /** The read timeout, {@link Duration#ZERO} when disabled. */
    Duration readTimeout();

    /**
     * Sets an absolute read deadline (Go: {@code SetReadDeadline}); reads after it throw
     * {@link ReadTimeoutException} until it is moved or cleared with {@code null}.
     */
    void readDeadline(@Nullable Instant deadline);

    // ---- writes: any thread ----

    /**
     * Writes all of {@code buffers} now, on the calling thread, serialized with every other write
     * on this connection (Go: {@code SendBytes2Conn}). Blocks at most the write timeout.
     *
     * @throws WriteTimeoutException if the peer did not take the bytes in time (the connection
     *     is then closed)
     */
    default void write(ByteBuffer... buffers) throws IOException {
        write(buffers, 0, buffers.length);
    }

    /**
     * Writes all remaining bytes of {@code buffers[offset .. offset+length)} with one gathering
     * write where the socket allows, as {@link #write(ByteBuffer...)} does.
     */
    void write(ByteBuffer[] buffers, int offset, int length) throws IOException;

    /** Writes {@code bytes} as {@link #write(ByteBuffer...)} does. */
    default void write(byte[] bytes) throws IOException {
        write(bytes, 0, bytes.length);
    }

    /**
     * Writes {@code bytes[offset .. offset+length)} as {@link #write(ByteBuffer...)} does.
     *
     * @throws IndexOutOfBoundsException if the range is not within {@code bytes}
     */
    default void write(byte[] bytes, int offset, int length) throws IOException {
        write(ByteBuffer.wrap(bytes, offset, length));
    }

    /** The write timeout; {@link Duration#ZERO} when disabled. */
    Duration writeTimeout();

    /**
     * Sets the write timeout for writes that start from now on; zero or negative disables it, null
     * is refused ({@link NullPointerException}).
     */
    void writeTimeout(Duration timeout);

    /** Shuts down the output side (sends FIN) after any write in progress; reads go on. */
    void shutdownOutput() throws IOException;

    /**
     * Runs {@code action} each time this connection has written nothing for {@code interval}
     * (after the last write, or after the last run of the action), until it closes: the mechanism
     * behind {@link Heartbeat}. The action runs on a virtual thread of its own, so it may block
     * (a put on a full queue) without holding up anything else; while one run is still going, the
     * next is skipped. A throwing action is logged and runs again at the next interval. Checked by
     * the server's sweeper every eighth of the shortest interval (at least every second), so a run
     * is never early and at most a quarter of the interval (two seconds) late. The sweeper looks at
     * most every millisecond, so the interval is at least {@link Heartbeat#MIN_INTERVAL} (8 ms).
     *
     * @throws IllegalArgumentException if {@code interval} is shorter than 8 ms
     */
    void onWriteIdle(Duration interval, Runnable action);

    // ---- lifecycle: any thread ----

    /** Whether the channel is still open. */
    boolean isOpen();

    /**
     * Why the connection ended, once its end has begun: a graceful close or a close, from
     * whichever side, records the first cause it knows. {@code null} while the connection is
     * open and no end has begun. Exit hooks always see a reason.
     */
    @Nullable CloseReason closeReason();

    /** The exception behind {@link #closeReason()}, if there was one; else {@code null}. */
    @Nullable Throwable closeCause();

    /** Closes the channel at once ({@link CloseReason#CLOSED}). Idempotent, any thread, never throws. */
    default void close() {
        close(CloseReason.CLOSED);
    }

    /**
     * Closes the channel at once, recording {@code reason} unless the end already has one (a
     * custom sender reports {@link CloseReason#SLOW_CONSUMER} this way). Idempotent, any thread,
     * never throws.
     */
    void close(CloseReason reason);

    /**
     * A sender's part of a graceful close: stop taking messages, write what is queued, and return
     * how many messages could not be written (they are discarded and counted).
     */
    @FunctionalInterface
    interface Drain {
        /** Drains within {@code timeout}; returns the number of messages discarded. */
        int drain(Duration timeout);
    }

    /**
     * Closes gracefully, the way every stcp sender ends: {@code drain} writes what the sender has
     * queued; then the output is shut down (FIN); then, if the peer may still be sending, the
     * connection waits for it to close too — at most 2 s — because closing a socket with input left
     * unread makes the kernel reset it, destroying replies not yet delivered (the connection's
     * reader thread reads and drops that input meanwhile, at most 1 MiB of it; on a connection no
     * runner reads, the closing thread does, once the application's read under way, if any, has
     * ended); then the connection closes. Whatever is not done within {@code timeout} is cut short by a close.
     *
     * <p>The application's reading ends as the close begins, whichever thread calls it: from then
     * on no more of the peer's input reaches the reader. Its next read that would take bytes from
     * the socket throws {@link java.nio.channels.AsynchronousCloseException}, and every read after
     * that a {@link java.nio.channels.ClosedChannelException} (only bytes already in the
     * connection's read buffer, at most one buffer, can still be read before; none when the reader
     * thread itself closes: its reads after the close all throw the latter); the reader is not
     * called again; and the connection's end waits for this close (behaviour change: a close on
     * another thread left the reader reading and parsing whatever the peer sent until the linger
     * ended).
     *
     * <p>Safe from any thread and more than once: the first call drains; a later or concurrent one
     * waits for the first to return (and, called on the reader thread, reads and drops the peer's
     * input until it closes, or until the peer is quiet for 200 ms once the first has nothing left
     * to write). One whose own timeout passes first closes the connection then, and still waits, at
     * most 2 s more, for the first to return: what the first's drain discarded is the first's to
     * report. Must not be called from a thread that {@code drain} waits for (a send thread).
     *
     * @return what {@code drain} returned, or 0 if another call drained
     */
    int closeGracefully(Duration timeout, Drain drain);

    /** {@link #closeGracefully(Duration, Drain)} with nothing to drain: FIN, wait for the peer, close. */
    default void closeGracefully(Duration timeout) {
        closeGracefully(timeout, t -> 0);
    }
}
