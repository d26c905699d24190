package io.stcp.internal;

import io.stcp.BasicMetaInfo;
import io.stcp.Connection;
import io.stcp.MetaInfo;
import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link Connection} implementation.
 *
 * <p>Reads go through the socket adaptor's input stream, which is the JDK path that honours
 * {@code SO_TIMEOUT} on a blocking channel (and parks a virtual thread rather than its carrier),
 * into a buffer allocated on first read. Writes go through the channel, so a batch is one
 * gathering write; {@link #writeLock} serializes them and {@link WriteWatchdog} closes the
 * channel of a write that blocks past the write timeout.
 */
public final class RealConnection implements Connection {
    private static final AtomicLong IDS = new AtomicLong();
    private static final int BUFFER_SIZE = 4096;
    private static final VarHandle SHORT_BE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle SHORT_LE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final long id = IDS.incrementAndGet();
    private final SocketChannel channel;
    private final Socket socket;
    private final InputStream in;
    private final SocketAddress remoteAddress;
    private final SocketAddress localAddress;
    private volatile MetaInfo metaInfo;

    // Read state: reader thread only.
    private byte[] buf;
    private int pos;
    private int lim;
    private long bytesRead;
    private int appliedSoTimeoutMillis;
    private volatile long readTimeoutNanos;
    private volatile long readDeadlineNanos; // System.nanoTime() based; 0 = none
    private long firstFrameDeadlineNanos;    // the deadline firstFrameTimeout set, 0 once cleared; reader thread

    /** The thread running this connection's reader loop, or null; set by the runner. */
    volatile Thread readerThread;

    // Write state.
    private final ReentrantLock writeLock = new ReentrantLock();
    private volatile long writeTimeoutNanos;
    /** nanoTime when the current write began, 0 when no write is blocked; read by the watchdog. */
    volatile long writeStartNanos;
    private volatile boolean writeTimedOut;
    /** nanoTime when the last write completed (or the connection was wrapped); read by heartbeats. */
    volatile long lastWriteNanos = System.nanoTime();
    private boolean watched; // guarded by writeLock

    /**
     * Wraps a connected blocking channel.
     *
     * @throws IllegalArgumentException if the channel is not connected or is non-blocking
     */
    public RealConnection(SocketChannel channel, Duration writeTimeout) {
        this.channel = Objects.requireNonNull(channel, "channel");
        if (!channel.isBlocking()) {
            throw new IllegalArgumentException("channel: non-blocking (expected: a blocking channel)");
        }
        if (!channel.isConnected()) {
            throw new IllegalArgumentException("channel: not connected (expected: a connected channel)");
        }
        this.socket = channel.socket();
        try {
            this.in = socket.getInputStream();
            this.remoteAddress = channel.getRemoteAddress();
            this.localAddress = channel.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException("channel closed while wrapping it", e);
        }
        this.metaInfo = new BasicMetaInfo(String.valueOf(remoteAddress).replaceFirst("^/", ""));
        writeTimeout(writeTimeout);
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public SocketAddress remoteAddress() {
        return remoteAddress;
    }

    @Override
    public SocketAddress localAddress() {
        return localAddress;
    }

    @Override
    public SocketChannel channel() {
        return channel;
    }

    @Override
    public MetaInfo metaInfo() {
        return metaInfo;
    }

    @Override
    public void metaInfo(MetaInfo metaInfo) {
        this.metaInfo = Objects.requireNonNull(metaInfo, "metaInfo");
    }

    // ---------------------------------------------------------------- reads

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int buffered = lim - pos;
        if (buffered == 0) {
            if (len >= BUFFER_SIZE) {
                return consumedDirect(readSocket(b, off, len));
            }
            if (fill() < 0) {
                return -1;
            }
            buffered = lim - pos;
        }
        int n = Math.min(buffered, len);
        System.arraycopy(buf, pos, b, off, n);
        pos += n;
        bytesRead += n;
        return n;
    }

    @Override
    public void readFully(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        int done = 0;
        while (done < len) {
            int n = read(b, off + done, len - done);
            if (n < 0) {
                throw new EOFException("end of stream after " + done + " of " + len + " bytes");
            }
            done += n;
        }
    }

    @Override
    public int readUnsignedByte() throws IOException {
        ensure(1);
        bytesRead++;
        return buf[pos++] & 0xFF;
    }

    @Override
    public short readShort() throws IOException {
        ensure(2);
        short v = (short) SHORT_BE.get(buf, pos);
        advance(2);
        return v;
    }

    @Override
    public short readShortLE() throws IOException {
        ensure(2);
        short v = (short) SHORT_LE.get(buf, pos);
        advance(2);
        return v;
    }

    @Override
    public int readInt() throws IOException {
        ensure(4);
        int v = (int) INT_BE.get(buf, pos);
        advance(4);
        return v;
    }

    @Override
    public int readIntLE() throws IOException {
        ensure(4);
        int v = (int) INT_LE.get(buf, pos);
        advance(4);
        return v;
    }

    @Override
    public long readLong() throws IOException {
        ensure(8);
        long v = (long) LONG_BE.get(buf, pos);
        advance(8);
        return v;
    }

    @Override
    public long readLongLE() throws IOException {
        ensure(8);
        long v = (long) LONG_LE.get(buf, pos);
        advance(8);
        return v;
    }

    @Override
    public int buffered() {
        return lim - pos;
    }

    @Override
    public long bytesRead() {
        return bytesRead;
    }

    @Override
    public void readTimeout(Duration timeout) {
        readTimeoutNanos = positiveNanos(timeout);
    }

    @Override
    public Duration readTimeout() {
        return Duration.ofNanos(readTimeoutNanos);
    }

    @Override
    public void readDeadline(Instant deadline) {
        if (deadline == null) {
            readDeadlineNanos = 0;
            return;
        }
        long fromNow = Duration.between(Instant.now(), deadline).toNanos();
        long nanos = System.nanoTime() + fromNow;
        readDeadlineNanos = nanos == 0 ? 1 : nanos;
    }

    /** Sets a read deadline that lasts until the reader's first call returns (see the runner). */
    void firstFrameTimeout(Duration timeout) {
        readDeadline(Instant.now().plus(timeout));
        firstFrameDeadlineNanos = readDeadlineNanos;
    }

    /** After the first frame: clears the first-frame deadline unless the reader has set its own. */
    void firstFrameDone() {
        if (firstFrameDeadlineNanos != 0) {
            if (readDeadlineNanos == firstFrameDeadlineNanos) {
                readDeadlineNanos = 0;
            }
            firstFrameDeadlineNanos = 0;
        }
    }

    private void advance(int n) {
        pos += n;
        bytesRead += n;
    }

    private int consumedDirect(int n) {
        if (n > 0) {
            bytesRead += n;
        }
        return n;
    }

    /** Ensures at least {@code n} (at most the buffer size) bytes are buffered. */
    private void ensure(int n) throws IOException {
        while (lim - pos < n) {
            if (fill() < 0) {
                throw new EOFException("end of stream: needed " + n + " bytes, had " + (lim - pos));
            }
        }
    }

    /** Reads more into the buffer, compacting it first if needed; -1 at end of stream. */
    private int fill() throws IOException {
        if (buf == null) {
            buf = new byte[BUFFER_SIZE];
        }
        if (pos == lim) {
            pos = lim = 0;
        } else if (lim == buf.length) {
            System.arraycopy(buf, pos, buf, 0, lim - pos);
            lim -= pos;
            pos = 0;
        }
        int n = readSocket(buf, lim, buf.length - lim);
        if (n > 0) {
            lim += n;
        }
        return n;
    }

    private int readSocket(byte[] b, int off, int len) throws IOException {
        applySoTimeout();
        try {
            return in.read(b, off, len);
        } catch (SocketTimeoutException e) {
            throw new ReadTimeoutException(readDeadlineNanos != 0 && System.nanoTime() - readDeadlineNanos >= 0
                    ? "read deadline passed"
                    : "no data within the read timeout of " + io.stcp.Durations.format(readTimeout()));
        }
    }

    private void applySoTimeout() throws IOException {
        long nanos = readTimeoutNanos;
        long deadline = readDeadlineNanos;
        if (deadline != 0) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                throw new ReadTimeoutException("read deadline passed");
            }
            nanos = nanos == 0 ? remaining : Math.min(nanos, remaining);
        }
        int millis = nanos == 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos + 999_999)));
        if (millis != appliedSoTimeoutMillis) {
            socket.setSoTimeout(millis);
            appliedSoTimeoutMillis = millis;
        }
    }

    // ---------------------------------------------------------------- writes

    @Override
    public void write(ByteBuffer[] buffers, int off, int len) throws IOException {
        writeLock.lock();
        try {
            long timeout = writeTimeoutNanos;
            if (timeout > 0 && !watched) {
                watched = true;
                WriteWatchdog.INSTANCE.watch(this);
            }
            int end = off + len;
            int first = off;
            try {
                if (timeout > 0) {
                    long now = System.nanoTime();
                    writeStartNanos = now == 0 ? 1 : now;
                }
                while (first < end) {
                    if (!buffers[first].hasRemaining()) {
                        first++;
                        continue;
                    }
                    channel.write(buffers, first, end - first);
                }
            } catch (IOException e) {
                if (writeTimedOut) {
                    throw new WriteTimeoutException("write blocked longer than the write timeout of "
                            + io.stcp.Durations.format(writeTimeout()) + "; connection closed");
                }
                throw e;
            } finally {
                writeStartNanos = 0;
                lastWriteNanos = System.nanoTime();
            }
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public Duration writeTimeout() {
        return Duration.ofNanos(writeTimeoutNanos);
    }

    @Override
    public void writeTimeout(Duration timeout) {
        writeTimeoutNanos = positiveNanos(timeout);
    }

    long writeTimeoutNanos() {
        return writeTimeoutNanos;
    }

    /** Called by the watchdog when a write has blocked past the timeout. */
    void onWriteTimeout() {
        writeTimedOut = true;
        Log.conn(Log.WARN, "conn.write.timeout", this).addKeyValue("timeout", io.stcp.Durations.format(writeTimeout())).log();
        close();
    }

    @Override
    public void shutdownOutput() throws IOException {
        writeLock.lock();
        try {
            channel.shutdownOutput();
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException | RuntimeException ignored) {
            // closing is best effort and must never throw
        }
        WriteWatchdog.INSTANCE.unwatch(this);
    }

    @Override
    public String toString() {
        return "Connection[id=" + id + ", remote=" + remoteAddress + "]";
    }

    private static long positiveNanos(Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            return 0;
        }
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }
}
