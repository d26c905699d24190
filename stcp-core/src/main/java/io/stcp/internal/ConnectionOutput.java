package io.stcp.internal;

import io.stcp.CloseReason;
import io.stcp.Durations;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The write side of a connection: writes serialized by one lock, each under the write timeout; a
 * write that times out closes the connection ({@link CloseReason#WRITE_TIMEOUT}). Counts the bytes
 * written, which write-idle tasks (heartbeats) watch.
 *
 * <p><b>Threads.</b> Any thread writes; the lock makes one write at a time. The timeout may be
 * set from any thread and applies from the next write on.
 */
final class ConnectionOutput {
    private static final VarHandle BYTES_WRITTEN = Fields.handle(MethodHandles.lookup(), "bytesWritten", long.class);

    private final RealConnection connection;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Transport transport; // replaced once, by the layers, before the connection is shared
    private volatile long timeoutNanos;
    private long bytesWritten; // guarded by lock; read racily for stats (opaque)

    ConnectionOutput(RealConnection connection, Transport transport, long timeoutNanos) {
        this.connection = connection;
        this.transport = transport;
        this.timeoutNanos = timeoutNanos;
    }

    /** See {@link io.stcp.Connection#write(ByteBuffer[], int, int)}. */
    void write(ByteBuffer[] buffers, int off, int len) throws IOException {
        write(buffers, off, len, false);
    }

    /** {@link #write(ByteBuffer[], int, int)} of buffers the caller owns: see {@link Transport#writeOwned}. */
    void writeOwned(ByteBuffer[] buffers, int off, int len) throws IOException {
        write(buffers, off, len, true);
    }

    private void write(ByteBuffer[] buffers, int off, int len, boolean owned) throws IOException {
        lock.lock();
        long before = Transport.remaining(buffers, off, len);
        try {
            long timeout = timeoutNanos;
            long deadline = timeout == 0 ? 0 : Nanos.deadline(System.nanoTime(), timeout);
            if (owned) {
                transport.writeOwned(buffers, off, len, deadline);
            } else {
                transport.write(buffers, off, len, deadline);
            }
        } catch (WriteTimeoutException e) {
            WriteTimeoutException timedOut = timedOut();
            boolean reported = connection.closeReason() == CloseReason.WRITE_TIMEOUT; // by deadlinePassed, on the JDK transport
            connection.close(CloseReason.WRITE_TIMEOUT, timedOut);
            if (!reported) {
                JfrEvents.writeTimeout(connection, timeoutNanos);
            }
            throw timedOut;
        } finally {
            BYTES_WRITTEN.setOpaque(this, bytesWritten + before - Transport.remaining(buffers, off, len));
            lock.unlock();
        }
    }

    /**
     * See {@link io.stcp.Connection#write(byte[], int, int)}: straight from the array while the
     * socket takes it all at once (no buffer objects), the rest as {@link #write(ByteBuffer[], int, int)}.
     */
    void write(byte[] bytes, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, bytes.length);
        lock.lock();
        int n = 0;
        try {
            n = Math.max(0, transport.writeNow(bytes, off, len));
            if (n < len) {
                write(new ByteBuffer[] {ByteBuffer.wrap(bytes, off + n, len - n)}, 0, 1);
            }
        } finally {
            BYTES_WRITTEN.setOpaque(this, bytesWritten + n);
            lock.unlock();
        }
    }

    /**
     * See {@link io.stcp.Connection#shutdownOutput()}: after any write in progress; a layer's last
     * words (TLS's {@code close_notify}) wait no longer than {@code deadlineNanos} (0: none).
     */
    void shutdownOutput(long deadlineNanos) throws IOException {
        lock.lock();
        try {
            transport.shutdownOutput(deadlineNanos);
        } finally {
            lock.unlock();
        }
    }

    /** The JDK transport's sweeper found a write blocked past its deadline: close, saying why. */
    void deadlinePassed() {
        connection.close(CloseReason.WRITE_TIMEOUT, timedOut());
        JfrEvents.writeTimeout(connection, timeoutNanos);
    }

    private WriteTimeoutException timedOut() {
        return new WriteTimeoutException("write blocked longer than the write timeout of "
                + Durations.format(timeout()) + "; connection closed");
    }

    /** See {@link io.stcp.Connection#onWriteIdle(Duration, Runnable)}. */
    void onWriteIdle(Duration interval, Runnable action) {
        long nanos = Nanos.timeout(Objects.requireNonNull(interval, "interval"));
        if (nanos == 0 && (interval.isNegative() || interval.isZero())) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: > 0)");
        }
        if (nanos != 0 && nanos < WriteIdleTask.MIN_INTERVAL_NANOS) {
            throw new IllegalArgumentException("interval: " + Durations.format(interval) + " (expected: >= "
                    + Durations.format(Duration.ofNanos(WriteIdleTask.MIN_INTERVAL_NANOS)) + ", the shortest the server's"
                    + " sweeper runs on time: it looks every eighth of the interval, at most every millisecond)");
        }
        WriteIdleTask task = new WriteIdleTask(connection, nanos == 0 ? Nanos.FOREVER : nanos,
                Objects.requireNonNull(action));
        connection.context().sweeper().add(task);
    }

    /** The transport the layers opened. */
    void transport(Transport t) {
        transport = t;
    }

    Duration timeout() {
        return Duration.ofNanos(timeoutNanos);
    }

    void timeout(Duration timeout) {
        timeoutNanos = Nanos.timeout(timeout);
    }

    /** Bytes written to the peer so far; any thread (a monitoring read, possibly a moment behind). */
    long bytesWritten() {
        return (long) BYTES_WRITTEN.getOpaque(this);
    }
}
