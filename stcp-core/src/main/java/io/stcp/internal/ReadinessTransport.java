package io.stcp.internal;

import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;

/**
 * A non-blocking socket watched by a native {@link ReadinessSource}: a read or write that finds
 * nothing to do waits on the socket's {@link Readiness} up to its deadline, and checks that
 * deadline itself on every turn of its loop. After a read that returned less than it asked for,
 * the socket is known to be empty, so the next read waits for an edge first instead of making a
 * syscall that would fail with EAGAIN.
 *
 * <p>A thread interrupted while waiting here closes the transport and gets a
 * {@link ClosedByInterruptException}, as a blocking channel would do.
 */
final class ReadinessTransport implements Transport {
    private final SocketChannel channel;
    private final Readiness readiness;
    private final String name;
    private boolean drained; // the last read emptied the socket; reader thread only

    ReadinessTransport(SocketChannel channel, Readiness readiness, String name) {
        this.channel = channel;
        this.readiness = readiness;
        this.name = name;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        ByteBuffer dst = ByteBuffer.wrap(b, off, len);
        while (true) {
            if (!isReadable()) {
                awaitReadable(deadlineNanos);
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

    @Override
    public boolean isReadable() {
        return !drained || readiness.isReadable();
    }

    @Override
    public boolean onReadable(Runnable action) {
        return drained && readiness.onReadable(action);
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        boolean ready = readiness.awaitReadable(deadlineNanos);
        closeIfInterrupted();
        if (!ready) {
            throw new ReadTimeoutException("read deadline passed");
        }
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        int end = off + len;
        while (true) {
            readiness.clearWritable();
            long n = Transport.writeSome(channel, srcs, off, end);
            if ((off = Transport.firstRemaining(srcs, off, end)) == end) {
                return;
            }
            if (n > 0) {
                // A write may stop short of a full socket (IOV_MAX buffers, the JDK's temporary
                // buffer cap): only one that took nothing means "wait for room" — and only then
                // will an edge come.
                continue;
            }
            boolean ready = !Nanos.passed(deadlineNanos, System.nanoTime()) && readiness.awaitWritable(deadlineNanos);
            closeIfInterrupted();
            if (!ready) {
                throw new WriteTimeoutException("write blocked past its deadline"); // the connection closes
            }
        }
    }

    /** What a blocking channel does when its thread is interrupted: close, and say so. */
    private void closeIfInterrupted() throws ClosedByInterruptException {
        if (Thread.currentThread().isInterrupted()) {
            close();
            throw new ClosedByInterruptException();
        }
    }

    @Override
    public void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    @Override
    public int available() {
        try {
            return channel.socket().getInputStream().available();
        } catch (IOException | RuntimeException e) {
            return 0;
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
            // best effort, never throws
        }
        readiness.close();
    }

    @Override
    public String name() {
        return name;
    }
}
