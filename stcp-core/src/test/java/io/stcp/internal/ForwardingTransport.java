package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A test transport that passes every call to a {@link MemoryTransport}; subclasses change the calls they test. */
public abstract class ForwardingTransport implements Transport {
    protected final MemoryTransport delegate;

    protected ForwardingTransport(MemoryTransport delegate) {
        this.delegate = delegate;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        return delegate.read(b, off, len, deadlineNanos);
    }

    @Override
    public boolean isReadable() {
        return delegate.isReadable();
    }

    @Override
    public boolean inputWaiting() {
        return delegate.inputWaiting();
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        delegate.awaitReadable(deadlineNanos);
    }

    @Override
    public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
        delegate.write(srcs, off, len, deadlineNanos);
    }

    @Override
    public void shutdownOutput() throws IOException {
        delegate.shutdownOutput();
    }

    @Override
    public int available() {
        return delegate.available();
    }

    @Override
    public boolean isOpen() {
        return delegate.isOpen();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
