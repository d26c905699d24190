package io.stcp.internal;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.function.Supplier;

/**
 * A test channel over a real connected one, passing every call to it, whose close closes the real
 * one and then throws what {@code failure} makes (unchecked): a close that fails after the
 * descriptor is released, as one that runs out of memory on its way out would.
 */
final class FailingCloseChannel extends ForwardingSocketChannel {
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
        super(real);
        this.failure = failure;
    }

    @Override
    protected void implCloseSelectableChannel() throws IOException {
        channel.close();
        throw fail(failure);
    }

    @Override
    protected void implConfigureBlocking(boolean block) throws IOException {
        channel.configureBlocking(block);
    }
}
