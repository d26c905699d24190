package io.stcp.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Sweeper} task that runs an action each time its connection has written nothing for an
 * interval ({@link io.stcp.Connection#onWriteIdle}). The action is user code that may block or
 * throw, so it runs on a virtual thread of its own, one run at a time; the sweeper never waits
 * for it.
 */
final class WriteIdleTask implements Sweeper.Task {
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final RealConnection connection;
    private final long intervalNanos;
    private final Runnable action;
    private final AtomicBoolean running = new AtomicBoolean();
    private long lastRunNanos = System.nanoTime(); // sweeper thread only

    WriteIdleTask(RealConnection connection, long intervalNanos, Runnable action) {
        this.connection = connection;
        this.intervalNanos = intervalNanos;
        this.action = action;
    }

    /** A quarter of the interval, at most a second: a run starts within 1.25 intervals of the last write. */
    long tickNanos() {
        return Math.min(MAX_TICK_NANOS, intervalNanos / 4);
    }

    @Override
    public boolean sweep(long now) {
        if (!connection.isOpen()) {
            return false;
        }
        long lastWrite = connection.lastWriteNanos();
        long idleSince = lastWrite - lastRunNanos > 0 ? lastWrite : lastRunNanos;
        if (now - idleSince >= intervalNanos && running.compareAndSet(false, true)) {
            lastRunNanos = now;
            Threads.start("stcp-conn-" + connection.id() + "-idle", this::runAction);
        }
        return true;
    }

    private void runAction() {
        try {
            action.run();
        } catch (Throwable t) {
            Log.connWarn("conn.idle.action.failed", connection).setCause(t).log();
        } finally {
            running.set(false);
        }
    }
}
