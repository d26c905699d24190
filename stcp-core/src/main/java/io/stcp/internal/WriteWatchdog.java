package io.stcp.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Enforces write timeouts. Java sockets have none, so one virtual thread scans the connections
 * that have a timeout and closes the channel of any write that has been blocked too long, which
 * makes the blocked write fail at once.
 *
 * <p>A write costs two volatile stores ({@link RealConnection#writeStartNanos}); nothing is
 * scheduled per write. The scan interval is a quarter of the smallest timeout, between 1 ms and
 * 100 ms, so a write fails within its timeout plus that interval.
 *
 * <p>States: no thread while no connection is watched; {@link #watch} starts the thread if there
 * is none; the thread ends itself when, under {@link #lock}, it finds nothing to watch. Because
 * {@code watch} adds before taking the lock and the thread checks emptiness under it, a connection
 * is never left unwatched.
 */
final class WriteWatchdog {
    static final WriteWatchdog INSTANCE = new WriteWatchdog();

    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Set<RealConnection> watched = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private Thread thread; // guarded by lock

    void watch(RealConnection connection) {
        watched.add(connection);
        lock.lock();
        try {
            if (thread == null) {
                thread = Threads.start("stcp-write-watchdog", this::run);
            }
        } finally {
            lock.unlock();
        }
    }

    void unwatch(RealConnection connection) {
        watched.remove(connection);
    }

    private void run() {
        long tick = MAX_TICK_NANOS;
        while (true) {
            try {
                TimeUnit.NANOSECONDS.sleep(tick);
            } catch (InterruptedException e) {
                // not expected; keep enforcing
            }
            tick = scan();
            lock.lock();
            try {
                if (watched.isEmpty()) {
                    thread = null;
                    return;
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Times out overdue writes; returns the next scan interval. */
    private long scan() {
        long now = System.nanoTime();
        long tick = MAX_TICK_NANOS;
        for (RealConnection c : watched) {
            long timeout = c.writeTimeoutNanos();
            if (timeout <= 0) {
                continue;
            }
            tick = Math.min(tick, Math.max(MIN_TICK_NANOS, timeout / 4));
            long start = c.writeStartNanos;
            if (start != 0 && now - start > timeout) {
                try {
                    c.onWriteTimeout();
                } catch (RuntimeException e) {
                    c.close();
                }
            }
        }
        return tick;
    }
}
