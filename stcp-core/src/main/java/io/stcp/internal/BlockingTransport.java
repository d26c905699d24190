package io.stcp.internal;

import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

/**
 * The JDK transport: a connected socket channel in blocking mode, used from virtual threads (the
 * JDK parks them, not their carriers).
 *
 * <p>Reads go through the socket adaptor's input stream, the JDK path that honours
 * {@code SO_TIMEOUT} on a blocking channel; the timeout is set from each read's deadline.
 *
 * <p>A blocking write has no timeout in the JDK, so a write with a deadline publishes it in
 * {@link #writeDeadlineNanos}, and a {@link Sweeper} task finds a write still blocked past it and
 * calls {@code onWriteDeadline}, which closes the connection (recording why first) and so the
 * channel, which makes the write fail at once; the write then reports
 * {@link WriteTimeoutException}.
 *
 * <p>The task ({@link WriteWatch}) is registered with the first such write, ticking at a quarter of
 * that write's wait (at most every 100 ms), and leaves the sweeper when the channel closes. A later
 * write whose wait needs a tick far from it (see {@link Sweeper#fits}) replaces it, a write
 * without a deadline lets it go, and a fast one leaves once no write is under way: one near
 * deadline, such as a handshake's last moments, must not keep the server's sweeper ticking every
 * millisecond for the connection's lifetime.
 */
final class BlockingTransport implements Transport {
    private static final long MAX_WRITE_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final SocketChannel channel;
    private final Socket socket;
    private InputStream in; // the socket adaptor's stream, made by the first read; reader thread only
    private final Sweeper sweeper;
    private final Runnable onWriteDeadline;
    private int appliedSoTimeoutMillis;      // reader thread only
    private boolean drained = true;          // the last read returned less than it asked for; reader thread only

    private volatile long writeDeadlineNanos; // 0 while no write is blocked with a deadline
    private volatile boolean writeTimedOut;
    private WriteWatch watch;                 // writer only (the connection serializes writes)

    /** @param onWriteDeadline closes the connection when a write is blocked past its deadline */
    BlockingTransport(SocketChannel channel, Sweeper sweeper, Runnable onWriteDeadline) {
        this.channel = channel;
        this.socket = channel.socket();
        this.sweeper = sweeper;
        this.onWriteDeadline = onWriteDeadline;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        int millis = 0;
        if (deadlineNanos != 0) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                // Passed: what has arrived is read all the same, without waiting, as a transport
                // that knows readiness reads it; only an empty socket times out. The count is a
                // system call, made on this path only.
                if (available() <= 0) {
                    throw new ReadTimeoutException("read deadline passed");
                }
                left = 1; // the bytes are there: the read returns at once
            }
            millis = (int) Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(left + 999_999));
        }
        if (millis != appliedSoTimeoutMillis) {
            socket.setSoTimeout(millis);
            appliedSoTimeoutMillis = millis;
        }
        if (in == null) {
            in = socket.getInputStream();
        }
        try {
            int n = in.read(b, off, len);
            drained = n < len;
            return n;
        } catch (SocketTimeoutException e) {
            throw new ReadTimeoutException("read deadline passed");
        }
    }

    @Override
    public boolean isReadable() {
        return true; // unknown: the read itself waits
    }

    @Override
    public void awaitReadable(long deadlineNanos) {
        // nothing to wait for here: read() waits
    }

    /** After a short read, no: the socket was empty. Else the socket's count (a system call). */
    @Override
    public boolean inputWaiting() {
        return !drained && available() > 0;
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        writeDeadlineNanos = deadlineNanos; // before the watch is looked at: see WriteWatch.sweep
        watch(deadlineNanos);
        try {
            writeAll(channel, srcs, off, off + len);
        } catch (IOException e) {
            if (writeTimedOut) {
                throw new WriteTimeoutException("write blocked past its deadline; connection closed");
            }
            throw e;
        } finally {
            writeDeadlineNanos = 0;
        }
    }

    /**
     * Writes {@code srcs[off .. end)} through the blocking {@code channel}. An interrupt that closes
     * the channel after the last byte reached the kernel (the JDK reports
     * {@link ClosedByInterruptException} all the same) does not undo the write: it returns, the
     * thread still interrupted, and the next call finds the channel closed.
     */
    static void writeAll(GatheringByteChannel channel, ByteBuffer[] srcs, int off, int end) throws IOException {
        try {
            while ((off = Transport.firstRemaining(srcs, off, end)) < end) {
                Transport.writeSome(channel, srcs, off, end);
            }
        } catch (ClosedByInterruptException e) {
            if (Transport.firstRemaining(srcs, off, end) < end) {
                throw e;
            }
        }
    }

    /** Keeps a watch whose tick fits a write with {@code deadlineNanos}, or none if it has no deadline. */
    private void watch(long deadlineNanos) {
        WriteWatch w = watch;
        if (deadlineNanos == 0) {
            if (w != null) {
                w.replaced = true;
                watch = null;
            }
            return;
        }
        long tick = Sweeper.tickFor(deadlineNanos - System.nanoTime(), MAX_WRITE_TICK_NANOS);
        if (w == null || w.replaced || !Sweeper.fits(w.tickNanos, tick)) {
            if (w != null) {
                w.replaced = true; // leaves at its next sweep
            }
            watch = w = new WriteWatch(tick);
            sweeper.add(w);
        }
    }

    /**
     * The sweeper's check: closes the channel of a write blocked past its deadline. A fast one (a
     * tick below the longest, made for a write near its deadline) leaves at a sweep that finds no
     * write under way, so that a connection that goes quiet after such a write does not keep the
     * sweeper ticking at that pace; the next write makes another. It marks itself replaced and then
     * looks at the write deadline again, while a write publishes its deadline and then looks at the
     * mark (all volatile): so either the sweep sees the write and stays, or the write sees the mark
     * and makes a new one. (Both at once leaves two watching one write, which is harmless.)
     */
    private final class WriteWatch implements Sweeper.Task {
        private final long tickNanos;
        private volatile boolean replaced;

        WriteWatch(long tickNanos) {
            this.tickNanos = tickNanos;
        }

        @Override
        public long tickNanos() {
            return tickNanos;
        }

        @Override
        public boolean sweep(long nowNanos) {
            if (replaced || !channel.isOpen()) {
                return false;
            }
            if (writeDeadlineNanos == 0 && tickNanos < MAX_WRITE_TICK_NANOS) {
                replaced = true;
                if (writeDeadlineNanos == 0) {
                    return false;
                }
                replaced = false; // a write began meanwhile, and may be counting on this one
            }
            if (Nanos.passed(writeDeadlineNanos, nowNanos)) {
                writeTimedOut = true;
                onWriteDeadline.run();
                close();
                return false;
            }
            return true;
        }
    }

    @Override
    public void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    @Override
    public int available() {
        try {
            return socket.getInputStream().available();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() {
        Quietly.close(channel, "socket");
    }

    @Override
    public String name() {
        return "jdk";
    }
}
