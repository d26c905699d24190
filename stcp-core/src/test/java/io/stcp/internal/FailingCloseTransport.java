package io.stcp.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A test transport over any other, passing every call to it, whose {@link #close()} closes the one
 * below and then throws what {@code failure} makes: a transport that breaks its "never throws"
 * (a bug, out of memory), after its socket is released. {@link #layer} opens one over each socket.
 */
final class FailingCloseTransport extends OverTransport {
    private final Supplier<? extends Throwable> failure;
    final AtomicInteger closes = new AtomicInteger();

    FailingCloseTransport(Transport under, Supplier<? extends Throwable> failure) {
        super(under);
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
}
