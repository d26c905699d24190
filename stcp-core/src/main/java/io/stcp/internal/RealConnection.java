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
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link Connection} implementation, in one of two modes.
 *
 * <p><b>Blocking</b> (the JDK transport): reads go through the socket adaptor's input stream, the
 * JDK path that honours {@code SO_TIMEOUT} on a blocking channel (and parks a virtual thread
 * rather than its carrier); writes go through the channel, and {@link WriteWatchdog} closes the
 * channel of a write that blocks past the write timeout.
 *
 * <p><b>Non-blocking</b> (a native {@link ReadinessSource}): the channel is non-blocking and
 * registered once; a read or write that finds nothing to do waits on the {@link Readiness}, with
 * the read or write timeout as its bound. After a read that returned less than it asked for, the
 * socket is known to be empty, so the next read waits for an edge first instead of making a
 * syscall that would fail with EAGAIN.
 *
 * <p>In both modes reads fill a buffer allocated on first read, a batch is one gathering write,
 * and {@link #writeLock} serializes writes.
 */
public final class RealConnection implements Connection {
    private static final AtomicLong IDS = new AtomicLong();
    private static final int BUFFER_SIZE = ReadBuffers.SIZE;
    private static final VarHandle SHORT_BE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle SHORT_LE = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final long id = IDS.incrementAndGet();
    private final SocketChannel channel;
    private final Socket socket;
    private final InputStream in;          // blocking mode only
    private final Readiness readiness;     // non-blocking mode only
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
    private boolean drained;                 // non-blocking: the last read emptied the socket; reader thread
    /** The reader is blocked waiting for the socket, so the kernel holds no unread input right now. */
    private volatile boolean awaitingInput;
    private volatile boolean discardingInput; // the runner drops input while the connection closes

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
    private volatile boolean outputShutdown;
    private final CountDownLatch closed = new CountDownLatch(1);

    /**
     * Wraps a connected blocking channel (blocking mode).
     *
     * @throws IllegalArgumentException if the channel is not connected or is non-blocking
     */
    public RealConnection(SocketChannel channel, Duration writeTimeout) {
        this(checkBlocking(channel), writeTimeout, null);
    }

    /**
     * Wraps a connected blocking channel, made non-blocking and registered with {@code source}
     * when it is not null. If the source cannot watch it (say, the kernel's limit of epoll watches
     * is reached), the connection uses the JDK transport instead and a WARN line says why.
     *
     * @throws IOException if the channel is no longer usable (it is left open)
     */
    public static RealConnection create(SocketChannel channel, Duration writeTimeout, ReadinessSource source)
            throws IOException {
        checkBlocking(channel);
        if (source == null) {
            return new RealConnection(channel, writeTimeout);
        }
        channel.configureBlocking(false);
        Readiness readiness;
        try {
            readiness = source.register(channel);
        } catch (IOException e) {
            channel.configureBlocking(true);
            RealConnection c = new RealConnection(channel, writeTimeout);
            Log.conn(Log.WARN, "conn.transport.fallback", c).addKeyValue("transport", source.name())
                    .addKeyValue("error", e.toString()).log();
            return c;
        }
        return new RealConnection(channel, writeTimeout, readiness);
    }

    private RealConnection(SocketChannel channel, Duration writeTimeout, Readiness readiness) {
        this.channel = channel;
        this.readiness = readiness;
        this.socket = channel.socket();
        try {
            this.in = readiness == null ? socket.getInputStream() : null;
            this.remoteAddress = channel.getRemoteAddress();
            this.localAddress = channel.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException("channel closed while wrapping it", e);
        }
        this.metaInfo = new BasicMetaInfo(String.valueOf(remoteAddress).replaceFirst("^/", ""));
        writeTimeout(writeTimeout);
    }

    private static SocketChannel checkBlocking(SocketChannel channel) {
        Objects.requireNonNull(channel, "channel");
        if (!channel.isBlocking()) {
            throw new IllegalArgumentException("channel: non-blocking (expected: a blocking channel)");
        }
        if (!channel.isConnected()) {
            throw new IllegalArgumentException("channel: not connected (expected: a connected channel)");
        }
        return channel;
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
    public int readUntil(byte delimiter, byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        if (pos == lim && fill() < 0) {
            return -1;
        }
        int end = Math.min(lim, pos + len);
        int i = pos;
        while (i < end && buf[i] != delimiter) {
            i++;
        }
        int n = (i < end ? i + 1 : end) - pos;
        System.arraycopy(buf, pos, b, off, n);
        advance(n);
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
        if (readiness != null && pos == lim && drained && !readiness.isReadable()) {
            // Nothing buffered and nothing to read: wait without holding a buffer.
            if (buf != null) {
                ReadBuffers.give(buf);
                buf = null;
                pos = lim = 0;
            }
            awaitReadable();
        }
        if (buf == null) {
            buf = readiness != null ? ReadBuffers.take() : new byte[BUFFER_SIZE];
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
        return readiness == null ? readBlocking(b, off, len) : readNonBlocking(b, off, len);
    }

    private int readBlocking(byte[] b, int off, int len) throws IOException {
        long nanos = Math.min(readWaitNanos(), Long.MAX_VALUE - 999_999);
        int millis = (int) Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(nanos + 999_999));
        if (millis != appliedSoTimeoutMillis) {
            socket.setSoTimeout(millis);
            appliedSoTimeoutMillis = millis;
        }
        awaitingInput = true;
        try {
            return in.read(b, off, len);
        } catch (SocketTimeoutException e) {
            throw readTimedOut();
        } finally {
            awaitingInput = false;
        }
    }

    private int readNonBlocking(byte[] b, int off, int len) throws IOException {
        ByteBuffer dst = ByteBuffer.wrap(b, off, len);
        while (true) {
            if (drained && !readiness.isReadable()) {
                awaitReadable();
            }
            readiness.clearReadable();
            int n = channel.read(dst);
            if (n != 0) {
                drained = dst.hasRemaining();
                return n;
            }
            drained = true;
        }
    }

    private void awaitReadable() throws IOException {
        awaitingInput = true;
        try {
            if (!readiness.awaitReadable(readWaitNanos())) {
                throw readTimedOut();
            }
        } finally {
            awaitingInput = false;
        }
        closeIfInterrupted();
    }

    /** How long the next read may wait, in nanoseconds, 0 = no limit; throws once the deadline has passed. */
    private long readWaitNanos() throws ReadTimeoutException {
        long nanos = readTimeoutNanos;
        long deadline = readDeadlineNanos;
        if (deadline != 0) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                throw new ReadTimeoutException("read deadline passed");
            }
            nanos = nanos == 0 ? remaining : Math.min(nanos, remaining);
        }
        return nanos;
    }

    private ReadTimeoutException readTimedOut() {
        return new ReadTimeoutException(readDeadlineNanos != 0 && System.nanoTime() - readDeadlineNanos >= 0
                ? "read deadline passed"
                : "no data within the read timeout of " + io.stcp.Durations.format(readTimeout()));
    }

    /** What a blocking channel does when its thread is interrupted: close, and say so. */
    private void closeIfInterrupted() throws ClosedByInterruptException {
        if (Thread.currentThread().isInterrupted()) {
            close();
            throw new ClosedByInterruptException();
        }
    }

    // ---------------------------------------------------------------- writes

    @Override
    public void write(ByteBuffer[] buffers, int off, int len) throws IOException {
        writeLock.lock();
        try {
            if (readiness == null) {
                writeBlocking(buffers, off, off + len);
            } else {
                writeNonBlocking(buffers, off, off + len);
            }
        } finally {
            lastWriteNanos = System.nanoTime();
            writeLock.unlock();
        }
    }

    private void writeBlocking(ByteBuffer[] buffers, int first, int end) throws IOException {
        long timeout = writeTimeoutNanos;
        if (timeout > 0 && !watched) {
            watched = true;
            WriteWatchdog.INSTANCE.watch(this);
            if (!channel.isOpen()) {
                WriteWatchdog.INSTANCE.unwatch(this); // close() may have unwatched before the watch
            }
        }
        try {
            if (timeout > 0) {
                long now = System.nanoTime();
                writeStartNanos = now == 0 ? 1 : now;
            }
            while ((first = firstRemaining(buffers, first, end)) < end) {
                channel.write(buffers, first, end - first);
            }
        } catch (IOException e) {
            if (writeTimedOut) {
                throw writeTimedOutException();
            }
            throw e;
        } finally {
            writeStartNanos = 0;
        }
    }

    private void writeNonBlocking(ByteBuffer[] buffers, int first, int end) throws IOException {
        long timeout = writeTimeoutNanos;
        long start = System.nanoTime();
        while (true) {
            readiness.clearWritable();
            channel.write(buffers, first, end - first);
            if ((first = firstRemaining(buffers, first, end)) == end) {
                return;
            }
            long left = timeout == 0 ? 0 : Math.max(1, timeout - (System.nanoTime() - start));
            if (!readiness.awaitWritable(left)) {
                onWriteTimeout();
                throw writeTimedOutException();
            }
            closeIfInterrupted();
        }
    }

    private static int firstRemaining(ByteBuffer[] buffers, int first, int end) {
        while (first < end && !buffers[first].hasRemaining()) {
            first++;
        }
        return first;
    }

    private WriteTimeoutException writeTimedOutException() {
        return new WriteTimeoutException("write blocked longer than the write timeout of "
                + io.stcp.Durations.format(writeTimeout()) + "; connection closed");
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
            outputShutdown = true;
        } finally {
            writeLock.unlock();
        }
    }

    /** Whether {@link #shutdownOutput()} has sent the FIN. */
    public boolean isOutputShutdown() {
        return outputShutdown;
    }

    /**
     * Whether the peer looks idle: the reader is blocked waiting for the socket, nothing is
     * waiting in the kernel, and the runner has not seen the peer send on while closing.
     */
    boolean isPeerIdle() {
        if (discardingInput || !awaitingInput) {
            return false;
        }
        try {
            return socket.getInputStream().available() == 0;
        } catch (IOException e) {
            return true; // closed or shut down: nothing more will be read
        }
    }

    /** Called by the runner when it reads and drops what the peer sends while the connection closes. */
    void discardingInput() {
        discardingInput = true;
    }

    /** Waits until {@link #close()} has been called; false on timeout. */
    boolean awaitClosed(long timeoutNanos) throws InterruptedException {
        return closed.await(timeoutNanos, TimeUnit.NANOSECONDS);
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
        if (readiness != null) {
            readiness.close();
        } else {
            WriteWatchdog.INSTANCE.unwatch(this);
        }
        closed.countDown();
    }

    /** Whether this connection waits through a native {@link ReadinessSource} (non-blocking mode). */
    public boolean isNonBlocking() {
        return readiness != null;
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
