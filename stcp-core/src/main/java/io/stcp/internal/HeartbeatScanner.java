package io.stcp.internal;

import io.stcp.Sender;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends heartbeats for {@link io.stcp.Heartbeat}: one virtual thread scans the watched senders and
 * queues a ping on each whose connection has been write-idle for its interval.
 *
 * <p>Lifecycle as in {@link WriteWatchdog}: the thread starts with the first watched sender and
 * ends itself, under {@link #lock}, when the last one has closed.
 */
public final class HeartbeatScanner {
    public static final HeartbeatScanner INSTANCE = new HeartbeatScanner();

    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_TICK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final class Entry {
        final Sender sender;
        final long intervalNanos;
        final byte[] ping;
        long lastPingNanos = System.nanoTime(); // scanner thread only

        Entry(Sender sender, long intervalNanos, byte[] ping) {
            this.sender = sender;
            this.intervalNanos = intervalNanos;
            this.ping = ping;
        }
    }

    private final Set<Entry> watched = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private Thread thread; // guarded by lock

    public void watch(Sender sender, long intervalNanos, byte[] ping) {
        watched.add(new Entry(sender, intervalNanos, ping));
        lock.lock();
        try {
            if (thread == null) {
                thread = Threads.start("stcp-heartbeat", this::run);
            }
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        long tick = MIN_TICK_NANOS;
        while (true) {
            try {
                TimeUnit.NANOSECONDS.sleep(tick);
            } catch (InterruptedException e) {
                // not expected; keep going
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

    private long scan() {
        long now = System.nanoTime();
        long tick = MAX_TICK_NANOS;
        for (Entry e : watched) {
            if (e.sender.isClosed()) {
                watched.remove(e);
                continue;
            }
            tick = Math.min(tick, Math.max(MIN_TICK_NANOS, e.intervalNanos / 4));
            long lastWrite = e.sender.connection() instanceof RealConnection rc ? rc.lastWriteNanos : e.lastPingNanos;
            long idleSince = lastWrite - e.lastPingNanos > 0 ? lastWrite : e.lastPingNanos;
            if (now - idleSince >= e.intervalNanos) {
                e.lastPingNanos = now;
                try {
                    e.sender.put(e.ping);
                } catch (RuntimeException skipped) {
                    // full or closed (SendException), or a broken custom sender: the next interval
                    // tries again, and a closed sender is dropped
                }
            }
        }
        return tick;
    }
}
