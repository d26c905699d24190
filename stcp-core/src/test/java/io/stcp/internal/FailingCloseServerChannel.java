package io.stcp.internal;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.SocketOption;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.function.Supplier;

/** As {@link FailingCloseChannel}, for a listening channel. */
final class FailingCloseServerChannel extends ServerSocketChannel {
    private final ServerSocketChannel real;
    private final Supplier<? extends Throwable> failure;

    FailingCloseServerChannel(ServerSocketChannel real, Supplier<? extends Throwable> failure) {
        super(real.provider());
        this.real = real;
        this.failure = failure;
    }

    @Override
    protected void implCloseSelectableChannel() throws IOException {
        real.close();
        throw FailingCloseChannel.fail(failure);
    }

    @Override
    protected void implConfigureBlocking(boolean block) throws IOException {
        real.configureBlocking(block);
    }

    @Override
    public ServerSocketChannel bind(SocketAddress local, int backlog) throws IOException {
        real.bind(local, backlog);
        return this;
    }

    @Override
    public <T> ServerSocketChannel setOption(SocketOption<T> name, T value) throws IOException {
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
    public ServerSocket socket() {
        return real.socket();
    }

    @Override
    public SocketChannel accept() throws IOException {
        return real.accept();
    }

    @Override
    public SocketAddress getLocalAddress() throws IOException {
        return real.getLocalAddress();
    }
}
