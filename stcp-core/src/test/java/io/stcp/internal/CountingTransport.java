package io.stcp.internal;

import java.io.IOException;

/** Counts the reads that reach the memory transport, and tells readiness as a native transport does. */
final class CountingTransport extends ForwardingTransport {
    volatile int reads;
    volatile boolean inRead;
    volatile int awaits; // calls of awaitInput: waits for a large value's rest, where a transport can tell

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
    public void awaitInput(int bytes, long deadlineNanos) {
        awaits++;
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
