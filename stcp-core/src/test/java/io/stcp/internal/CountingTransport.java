package io.stcp.internal;

import java.io.IOException;

/** Counts the reads that reach the memory transport, and tells readiness as a native transport does. */
final class CountingTransport extends ForwardingTransport {
    volatile int reads;
    volatile boolean inRead;

    CountingTransport(MemoryTransport delegate) {
        super(delegate);
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
    public String name() {
        return "counting";
    }
}
