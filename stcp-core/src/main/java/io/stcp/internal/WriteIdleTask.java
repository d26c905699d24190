package io.stcp.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Sweeper} task that runs an action each time its connection has written nothing for an
 * interval ({@link io.stcp.Connection#onWriteIdle}). The action is user code that may block or
 * throw, so it runs on a virtual thread of its own, one run at a time; the sweeper never waits
 * for it.
 *
 * <p>A write is seen as the connection's count of bytes written moving between two sweeps, and
 * the idle time counts from the sweep that saw it — from its own clock read, after it read the
 * count, not the scan's, which is read before the scan walks its tasks and so may be older than
 * the write (by as long as the scan takes) — so it never counts from before the write: the action
 * never runs early, and at most two ticks late (a quarter of the interval, two seconds at most).
 * So a write reads no clock: at 1,000 connections × 1 in flight the clock reads were 0.6–1.1 % of
 * the echo server's CPU, half of them the time of each write (BENCHMARKS.md, "Heap segments no
 * longer allocated"); a sweep reads one when it sees the count move, once a tick at most.
 */
final class WriteIdleTask implements Sweeper.Task {
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * The shortest interval: eight of the sweeper's shortest ticks. A shorter one would be swept
     * every millisecond all the same, and run up to two milliseconds late: more than the quarter
     * of it promised.
     */
    static final long MIN_INTERVAL_NANOS = 8 * Sweeper.MIN_TICK_NANOS;

    private final RealConnection connection;
    private final long intervalNanos;
    private final Runnable action;
    private final AtomicBoolean running = new AtomicBoolean();
    private long bytesSeen;                       // sweeper thread only: bytes written at the last sweep
    private long idleSince = System.nanoTime();   // sweeper thread only: when a sweep saw them move, or the last run

    WriteIdleTask(RealConnection connection, long intervalNanos, Runnable action) {
        this.connection = connection;
        this.intervalNanos = intervalNanos;
        this.action = action;
        this.bytesSeen = connection.bytesWritten();
    }

    /** An eighth of the interval, at most a second: a run starts within 1.25 intervals of the last write. */
    @Override
    public long tickNanos() {
        return Math.min(MAX_TICK_NANOS, intervalNanos / 8);
    }

    @Override
    public boolean sweep(long now) {
        if (!connection.isOpen()) {
            return false;
        }
        long written = connection.bytesWritten();
        if (written != bytesSeen) {
            bytesSeen = written;
            idleSince = System.nanoTime(); // not the scan's: it may be older than the write
            return true;
        }
        if (now - idleSince >= intervalNanos && running.compareAndSet(false, true)) {
            idleSince = now;
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
