package io.stcp.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongPredicate;

/**
 * Runs periodic checks for the connections of one server (connections made outside a server share
 * {@link #SHARED}): the JDK transport's write deadlines ({@link BlockingTransport}), write-idle
 * actions such as heartbeats ({@link WriteIdleTask}), and the deadlines and read timeouts of read
 * loops waiting with no thread ({@link SuspensionDeadline}, {@link ReadIdleWatch}). One virtual
 * thread serves them all; no timer or thread is scheduled per connection.
 *
 * <p><b>States.</b> IDLE (no thread) → RUNNING when a task is added; RUNNING → IDLE when the thread,
 * under {@link #lock}, finds no task left. {@link #add} adds the task before it takes the lock, and
 * the thread checks for tasks under it, so a task is never left without a thread to run it.
 *
 * <p><b>Tick.</b> Each task says how often it must run ({@link Task#tickNanos()}); the thread runs
 * every task at the shortest of those intervals (at least 1 ms). Tasks are kept as they are, with
 * no entry around them (24 bytes per connection that has one). A task added with a shorter
 * interval than the current one wakes the thread at once, so it never waits for a long tick chosen
 * before it came.
 *
 * <p><b>Failure.</b> A task that throws anything ({@link Throwable}, user code included) is removed
 * and reported once through {@link Task#failed}; the thread goes on with the others. A scan that
 * fails itself (out of memory while it walks the tasks) is logged ({@code server.sweeper.failed},
 * ERROR, one line a second at most) and the next comes a tick later. Tasks must
 * not block: anything that might (a user's put) runs on a thread of its own.
 */
final class Sweeper {
    /** For connections made with {@code Connection.of}, outside any server. */
    static final Sweeper SHARED = new Sweeper("stcp-sweeper");

    static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /**
     * One periodic check. Kept in a set: a task must not override {@code equals} (nor be a record),
     * and adding one that is there already does nothing.
     */
    interface Task {
        /**
         * Runs the check.
         *
         * @return false when the task is done and should be removed
         */
        boolean sweep(long nowNanos);

        /** How often it must run (at least 1 ms is used); asked when added and at every scan. */
        long tickNanos();

        /** Called once if {@link #sweep} threw; the task has been removed. */
        default void failed(Throwable t) {}
    }

    /** A task that runs {@code check} about every {@code everyNanos} until it returns false. */
    static Task every(long everyNanos, LongPredicate check) {
        return new Task() {
            @Override
            public boolean sweep(long nowNanos) {
                return check.test(nowNanos);
            }

            @Override
            public long tickNanos() {
                return everyNanos;
            }
        };
    }

    private final String name;
    private final Set<Task> entries = ConcurrentHashMap.newKeySet();
    private final ReentrantLock lock = new ReentrantLock();
    private Thread thread;                           // guarded by lock
    private long addedTickNanos = Long.MAX_VALUE;    // shortest tick added since the last scan; guarded by lock
    private volatile long tickNanos;                 // the interval the thread sleeps now
    private final RateLimiter errorLog = new RateLimiter(TimeUnit.SECONDS.toNanos(1));
    /** For tests: runs on the sweeper's thread before each scan of the tasks, outside any task. */
    volatile Runnable beforeScan;

    Sweeper(String name) {
        this.name = name;
    }

    /** Runs {@code task} about every {@link Task#tickNanos()} (at least 1 ms) until it returns false. */
    void add(Task task) {
        long every = tickOf(task);
        entries.add(task);
        lock.lock();
        try {
            addedTickNanos = Math.min(addedTickNanos, every);
            if (thread == null) {
                tickNanos = every;
                thread = Threads.start(name, this::run);
            } else if (every < tickNanos) {
                tickNanos = every;
                LockSupport.unpark(thread);
            }
        } finally {
            lock.unlock();
        }
    }

    private static long tickOf(Task task) {
        return Math.max(MIN_TICK_NANOS, task.tickNanos());
    }

    /**
     * The tick for a wait of {@code waitNanos} to a deadline: a quarter of it (the deadline's
     * precision), at most {@code maxNanos}, at least {@link #MIN_TICK_NANOS}.
     */
    static long tickFor(long waitNanos, long maxNanos) {
        return Math.max(MIN_TICK_NANOS, Math.min(maxNanos, Math.max(0, waitNanos) / 4));
    }

    /**
     * Whether a task ticking every {@code tickNanos} serves a wait that wants {@code wantedNanos}:
     * more than half of it (precise enough) and less than four times (not needlessly fast). A task
     * that does not fit is replaced with one that does, which a connection's alike waits (a timeout
     * per frame, per write) never need.
     */
    static boolean fits(long tickNanos, long wantedNanos) {
        return wantedNanos > tickNanos / 2 && wantedNanos < 4 * tickNanos;
    }

    /** The interval the thread sleeps now; for tests. */
    long tickNanos() {
        return tickNanos;
    }

    /** Tasks registered now; for tests. */
    int size() {
        return entries.size();
    }

    private void run() {
        while (true) {
            LockSupport.parkNanos(this, tickNanos);
            long tick;
            try {
                tick = scan(System.nanoTime());
            } catch (Throwable t) {
                // Out of memory while it walks the tasks, say (their own failures are caught in
                // scan): this thread must go on, or no deadline or heartbeat of the server would
                // run again. The tasks not reached are swept at the next tick, which stays as it is.
                tick = tickNanos;
                long held = errorLog.tryAcquire();
                if (held >= 0) {
                    try {
                        Log.suppressed(Log.SERVER.atError().setMessage("server.sweeper.failed")
                                .addKeyValue("sweeper", name), held)
                                .setCause(t).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: go on all the same
                    }
                }
            }
            lock.lock();
            try {
                if (entries.isEmpty()) {
                    thread = null;
                    return;
                }
                // A task added during the scan may not have been seen by it: keep its tick too.
                tickNanos = Math.min(tick, addedTickNanos);
                addedTickNanos = Long.MAX_VALUE;
            } finally {
                lock.unlock();
            }
            Thread.interrupted(); // nobody should interrupt this thread; never let it turn the park into a spin
        }
    }

    /** Sweeps every task once, removing those done or failed; returns the shortest tick of those kept. */
    private long scan(long now) {
        Runnable hook = beforeScan;
        if (hook != null) {
            hook.run();
        }
        long tick = Long.MAX_VALUE;
        for (Task e : entries) {
            boolean keep;
            try {
                keep = e.sweep(now);
            } catch (Throwable t) {
                keep = false;
                try {
                    e.failed(t);
                } catch (Throwable ignored) {
                    // nothing more to do for it
                }
            }
            if (keep) {
                tick = Math.min(tick, tickOf(e));
            } else {
                entries.remove(e);
            }
        }
        return tick;
    }
}
