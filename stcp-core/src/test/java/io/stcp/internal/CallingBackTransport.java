package io.stcp.internal;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A transport over memory that tells readiness, as a socket's does, and calls a suspended read
 * loop back when bytes are fed or it is closed; it counts the loop's requests for a call back.
 */
final class CallingBackTransport extends ForwardingTransport {
    private final AtomicReference<Runnable> callback = new AtomicReference<>();
    private final AtomicInteger callbackRequests = new AtomicInteger();
    private final AtomicInteger waits = new AtomicInteger();

    CallingBackTransport(MemoryTransport delegate) {
        super(delegate);
    }

    void feed(byte[] bytes) {
        delegate.feed(bytes);
        callBack();
    }

    private void callBack() {
        Runnable action = callback.getAndSet(null);
        if (action != null) {
            action.run();
        }
    }

    /** As a socket's readiness does: a close ends a suspension too. */
    @Override
    public void close() {
        delegate.close();
        callBack();
    }

    /** A loop is suspended: its call back is registered and has not run. */
    boolean suspended() {
        return callback.get() != null;
    }

    /** The calls of {@link #onReadable} so far, whatever they answered. */
    int callbackRequests() {
        return callbackRequests.get();
    }

    /** The waits for input in a read ({@link #awaitReadable}) begun so far. */
    int waits() {
        return waits.get();
    }

    @Override
    public boolean tellsReadiness() {
        return true;
    }

    @Override
    public boolean isReadable() {
        return delegate.available() > 0;
    }

    @Override
    public int readNow(byte[] b, int off, int len) throws IOException {
        return delegate.available() > 0 ? delegate.read(b, off, len, 0) : 0;
    }

    @Override
    public void awaitReadable(long deadlineNanos) throws IOException {
        waits.incrementAndGet();
        delegate.read(new byte[0], 0, 0, deadlineNanos); // returns once bytes are there
    }

    @Override
    public boolean onReadable(Runnable action) {
        callbackRequests.incrementAndGet();
        if (delegate.available() > 0 || !delegate.isOpen()) {
            return false;
        }
        callback.set(action);
        // Fed or closed between the check and the set: take it back, unless that took it to run it.
        return delegate.available() == 0 && delegate.isOpen() || !callback.compareAndSet(action, null);
    }

    @Override
    public String name() {
        return "memory, calling back";
    }
}
