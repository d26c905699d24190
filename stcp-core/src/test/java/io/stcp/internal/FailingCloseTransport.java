package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A test transport over any other, passing every call to it, whose {@link #close()} closes the one
 * below and then throws what {@code failure} makes: a transport that breaks its "never throws"
 * (a bug, out of memory), after its socket is released. {@link #layer} opens one over each socket.
 */
final class FailingCloseTransport implements Transport {
    private final Transport under;
    private final Supplier<? extends Throwable> failure;
    final AtomicInteger closes = new AtomicInteger();

    FailingCloseTransport(Transport under, Supplier<? extends Throwable> failure) {
        this.under = under;
        this.failure = failure;
    }

    /** A layer that puts one over every socket, throwing what {@code failure} makes. */
    static TransportLayer layer(Supplier<? extends Throwable> failure) {
        return (under, connection, deadlineNanos) -> new FailingCloseTransport(under, failure);
    }

    @Override
    public void close() {
        under.close();
        closes.incrementAndGet();
        throw FailingCloseChannel.fail(failure);
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        return under.read(b, off, len, deadlineNanos);
    }

    @Override
    public boolean isReadable() {
        return under.isReadable();
    }

    @Override
    public boolean tellsReadiness() {
        return under.tellsReadiness();
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        under.awaitReadable(deadlineNanos);
    }

    @Override
    public boolean inputWaiting() {
        return under.inputWaiting();
    }

    @Override
    public boolean onReadable(Runnable action) {
        return under.onReadable(action);
    }

    @Override
    public void giveWay(long deadlineNanos) throws IOException {
        under.giveWay(deadlineNanos);
    }

    @Override
    public boolean holdsInput() {
        return under.holdsInput();
    }

    @Override
    public boolean holdsPartialInput() {
        return under.holdsPartialInput();
    }

    @Override
    public void awaitInput(int bytes, long deadlineNanos) throws IOException {
        under.awaitInput(bytes, deadlineNanos);
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        under.write(srcs, off, len, deadlineNanos);
    }

    @Override
    public void writeOwned(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        under.writeOwned(srcs, off, len, deadlineNanos);
    }

    @Override
    public int writeNow(byte[] b, int off, int len) throws IOException {
        return under.writeNow(b, off, len);
    }

    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        return under.readNow(b, off, len);
    }

    @Override
    public boolean readsDirect() {
        return under.readsDirect();
    }

    @Override
    public long read(ByteBuffer[] dsts, int off, int len, long deadlineNanos) throws IOException {
        return under.read(dsts, off, len, deadlineNanos);
    }

    @Override
    public long readNow(ByteBuffer[] dsts, int off, int len) throws IOException {
        return under.readNow(dsts, off, len);
    }

    @Override
    public void shutdownOutput() throws IOException {
        under.shutdownOutput();
    }

    @Override
    public void shutdownOutput(long deadlineNanos) throws IOException {
        under.shutdownOutput(deadlineNanos);
    }

    @Override
    public int available() {
        return under.available();
    }

    @Override
    public boolean isOpen() {
        return under.isOpen();
    }

    @Override
    public String name() {
        return under.name();
    }
}
