package io.stcp.internal;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketOption;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A test channel over a real connected one, passing every call to it, whose close closes the real
 * one and then throws what {@code failure} makes (unchecked): a close that fails after the
 * descriptor is released, as one that runs out of memory on its way out would.
 */
final class FailingCloseChannel extends SocketChannel {
    private final SocketChannel real;
    private final Supplier<? extends Throwable> failure;

    /**
     * What a close throws in these tests: {@code runtime}, a RuntimeException (a bug); {@code error},
     * an Error (as out of memory: not OutOfMemoryError itself, which JUnit rethrows, ending the run).
     */
    static Supplier<Throwable> failure(String kind) {
        return switch (kind) {
            case "runtime" -> () -> new IllegalStateException("injected: closing failed");
            case "error" -> () -> new InternalError("injected: closing failed");
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** Throws what {@code failure} makes (a RuntimeException or an Error); declared to return one, so that callers can {@code throw} it. */
    static RuntimeException fail(Supplier<? extends Throwable> failure) {
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) {
            throw re;
        }
        throw (Error) t;
    }

    FailingCloseChannel(SocketChannel real, Supplier<? extends Throwable> failure) {
        super(real.provider());
        this.real = real;
        this.failure = failure;
    }

    @Override
    protected void implCloseSelectableChannel() throws IOException {
        real.close();
        throw fail(failure);
    }

    @Override
    protected void implConfigureBlocking(boolean block) throws IOException {
        real.configureBlocking(block);
    }

    @Override
    public SocketChannel bind(SocketAddress local) throws IOException {
        real.bind(local);
        return this;
    }

    @Override
    public <T> SocketChannel setOption(SocketOption<T> name, T value) throws IOException {
        real.setOption(name, value);
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return real.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return real.supportedOptions();
    }

    @Override
    public SocketChannel shutdownInput() throws IOException {
        real.shutdownInput();
        return this;
    }

    @Override
    public SocketChannel shutdownOutput() throws IOException {
        real.shutdownOutput();
        return this;
    }

    @Override
    public Socket socket() {
        return real.socket();
    }

    @Override
    public boolean isConnected() {
        return real.isConnected();
    }

    @Override
    public boolean isConnectionPending() {
        return real.isConnectionPending();
    }

    @Override
    public boolean connect(SocketAddress remote) throws IOException {
        return real.connect(remote);
    }

    @Override
    public boolean finishConnect() throws IOException {
        return real.finishConnect();
    }

    @Override
    public SocketAddress getRemoteAddress() throws IOException {
        return real.getRemoteAddress();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return real.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return real.read(dsts, offset, length);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return real.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return real.write(srcs, offset, length);
    }

    @Override
    public SocketAddress getLocalAddress() throws IOException {
        return real.getLocalAddress();
    }
}
