package io.stcp.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Counts the reads that reach the memory transport, and tells readiness as a native transport does. */
final class CountingTransport implements Transport {
    private final MemoryTransport delegate;
    volatile int reads;
    volatile boolean inRead;

    CountingTransport(MemoryTransport delegate) {
        this.delegate = delegate;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        reads++;
        inRead = true;
        try {
            return delegate.read(b, off, len, deadlineNanos);
        } finally {
            inRead = false;
        }
    }

    @Override
    public boolean isReadable() {
        return delegate.available() > 0;
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

    @Override
    public String name() {
        return "counting";
    }
}
