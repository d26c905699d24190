package io.stcp;

import io.stcp.internal.RealConnection;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;

/**
 * One TCP connection as the reader and sender see it: buffered blocking reads with timeouts,
 * serialized writes with a write timeout, addresses, metadata, and the raw channel.
 *
 * <p><b>Thread safety.</b> The read methods belong to the reader thread (the thread that calls the
 * {@link ConnectionReader}); they are not safe to call from two threads at once. Everything else
 * is safe from any thread. Writes from several threads are serialized: each {@code write} call is
 * written whole, never interleaved with another call or with the sender's batches.
 *
 * <p><b>Failure.</b> A read that hits end of stream in the middle of a value throws
 * {@link java.io.EOFException}; a read that waits longer than the read timeout or past the read
 * deadline throws {@link ReadTimeoutException} and leaves the connection usable. A write that
 * blocks longer than the write timeout closes the connection and throws
 * {@link WriteTimeoutException}.
 */
public interface Connection {

    /**
     * Wraps a connected, blocking {@link SocketChannel}, for example one the application dialled,
     * so that a {@link ConnectionRunner} can run it. The write timeout starts at
     * {@link ServerConfig#DEFAULT_WRITE_TIMEOUT} (5s).
     *
     * @throws IllegalArgumentException if the channel is not connected or not blocking
     */
    static Connection of(SocketChannel channel) {
        return new RealConnection(channel, ServerConfig.DEFAULT_WRITE_TIMEOUT);
    }

    /** A process-unique id, the {@code conn} field of every log line about this connection. */
    long id();

    /** The peer's address, or {@code null} if unknown. */
    SocketAddress remoteAddress();

    /** The local address, or {@code null} if unknown. */
    SocketAddress localAddress();

    /**
     * The raw channel, for socket options and anything stcp does not wrap. Reading from it
     * directly bypasses this connection's buffer (bytes already buffered would be skipped) and
     * writing to it bypasses the write lock and timeout; prefer the methods here.
     */
    SocketChannel channel();

    /** The current metadata; initially a {@link BasicMetaInfo} of the peer address. */
    MetaInfo metaInfo();

    /** Replaces the metadata; any type, any time, any thread. */
    void metaInfo(MetaInfo metaInfo);

    // ---- reads: reader thread only ----

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

    /** Reads exactly {@code b.length} bytes. */
    default void readFully(byte[] b) throws IOException {
        readFully(b, 0, b.length);
    }

    /** Reads exactly {@code len} bytes into {@code b} at {@code off}. */
    void readFully(byte[] b, int off, int len) throws IOException;

    /** Reads exactly {@code n} bytes into a new array. */
    default byte[] readBytes(int n) throws IOException {
        byte[] b = new byte[n];
        readFully(b, 0, n);
        return b;
    }

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

    /** Total bytes consumed by the read methods so far. */
    long bytesRead();

    /**
     * Sets the longest time one blocking read may wait for data (an idle timeout, Go:
     * {@code SetReadDeadline(now + d)} renewed on every read). Zero or negative disables it
     * (the default). Millisecond resolution.
     */
    void readTimeout(Duration timeout);

    /** The read timeout, {@link Duration#ZERO} when disabled. */
    Duration readTimeout();

    /**
     * Sets an absolute read deadline (Go: {@code SetReadDeadline}); reads after it throw
     * {@link ReadTimeoutException} until it is moved or cleared with {@code null}.
     */
    void readDeadline(Instant deadline);

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
        write(ByteBuffer.wrap(bytes));
    }

    /** The write timeout; {@link Duration#ZERO} when disabled. */
    Duration writeTimeout();

    /** Sets the write timeout for writes that start from now on; zero or negative disables it. */
    void writeTimeout(Duration timeout);

    /** Shuts down the output side (sends FIN) after any write in progress; reads go on. */
    void shutdownOutput() throws IOException;

    /** Whether the channel is still open. */
    boolean isOpen();

    /** Closes the channel. Idempotent, any thread, never throws. */
    void close();
}
