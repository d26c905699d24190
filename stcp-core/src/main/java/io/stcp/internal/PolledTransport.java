package io.stcp.internal;

import io.stcp.ReadTimeoutException;
import io.stcp.WriteTimeoutException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;

/**
 * The JDK transport of a Unix domain socket: a non-blocking channel whose waits go through the
 * shared {@link SelectorPoller}, each up to its deadline. (TCP sockets use
 * {@link BlockingTransport}, whose socket adaptor has read timeouts; a Unix socket channel has no
 * adaptor.) A thread interrupted while waiting closes the transport and gets a
 * {@link ClosedByInterruptException}, as a blocking channel would do; one whose wait ended because
 * the poller failed gets a {@link PollerFailedException}.
 */
final class PolledTransport implements Transport {
    private final SocketChannel channel;
    private final SelectorPoller.Registration registration;

    /** Makes {@code channel} non-blocking and registers it. */
    PolledTransport(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(false);
        this.registration = SelectorPoller.watch(channel);
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        ByteBuffer dst = ByteBuffer.wrap(b, off, len);
        while (true) {
            int n = channel.read(dst);
            if (n != 0) {
                return n;
            }
            boolean ready = !Nanos.passed(deadlineNanos, System.nanoTime()) && registration.await(true, deadlineNanos);
            closeIfInterrupted();
            throwIfPollerFailed();
            if (!ready) {
                throw new ReadTimeoutException("read deadline passed");
            }
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

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        int end = off + len;
        while (true) {
            Transport.writeSome(channel, srcs, off, end);
            if ((off = Transport.firstRemaining(srcs, off, end)) == end) {
                return;
            }
            boolean ready = !Nanos.passed(deadlineNanos, System.nanoTime()) && registration.await(false, deadlineNanos);
            closeIfInterrupted();
            throwIfPollerFailed();
            if (!ready) {
                throw new WriteTimeoutException("write blocked past its deadline"); // the connection closes
            }
        }
    }

    /**
     * A wait that ended because the poller gave up on the channel: no wake-up may come any more.
     * Left open for the connection to close with that reason (see {@code ReadinessTransport}).
     */
    private void throwIfPollerFailed() throws PollerFailedException {
        Throwable cause = registration.failure();
        if (cause != null) {
            throw new PollerFailedException("Unix socket", cause);
        }
    }

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
        return 0; // unknown; a Unix socket closed with input unread still delivers what it sent
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() {
        Quietly.close(channel, "socket"); // whatever it throws, the selector stops watching it
        registration.close();
    }

    @Override
    public String name() {
        return "jdk";
    }
}
