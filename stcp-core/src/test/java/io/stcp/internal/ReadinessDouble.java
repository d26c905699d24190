package io.stcp.internal;

import java.io.IOException;

/**
 * A test transport over a {@link MemoryTransport} that tells readiness as the native transport
 * ({@link ReadinessTransport}) does: after a read that may have left bytes in the socket it is
 * "maybe readable" (not known drained) until a read finds it empty; a read of an empty socket waits.
 */
final class ReadinessDouble extends ForwardingTransport {
    /** Which reads that returned bytes leave the socket "maybe readable". */
    enum Maybe {
        /** One that took all it was offered, as the native transport says. */
        AFTER_A_FULL_READ,
        /** Every one: readiness at its most uncertain. */
        AFTER_ANY_READ
    }

    private final Maybe maybe;
    private volatile boolean drained = true;
    /** A read, or {@link #awaitReadable}, is waiting for bytes. */
    volatile boolean waiting;
    /** How many such waits began. */
    volatile int waits;

    ReadinessDouble(MemoryTransport delegate, Maybe maybe) {
        super(delegate);
        this.maybe = maybe;
    }

    @Override
    public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
        if (delegate.available() == 0) {
            drained = true; // the read finds it empty, and waits
            awaitReadable(deadlineNanos);
        }
        int n = delegate.read(b, off, len, deadlineNanos);
        drained = maybe == Maybe.AFTER_ANY_READ ? n <= 0 : n < len;
        return n;
    }

    /** One read unless known drained: none there makes it drained, as a read call that finds the socket empty. */
    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        if (!isReadable()) {
            return 0;
        }
        if (delegate.available() == 0) {
            drained = true;
            return 0;
        }
        return read(b, off, len, 0);
    }

    @Override
    public boolean isReadable() {
        return !drained || delegate.available() > 0;
    }

    @Override
    public boolean tellsReadiness() {
        return true;
    }

    /** Until bytes are there: a read of none returns once they are. */
    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        waits++; // one waiter at a time: the reader
        waiting = true;
        try {
            delegate.read(new byte[0], 0, 0, deadlineNanos);
        } finally {
            waiting = false;
        }
    }

    @Override
    public String name() {
        return "readiness, " + maybe;
    }
}
