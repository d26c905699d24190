package io.stcp.internal;

import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/**
 * Starts stcp's virtual threads and counts the live ones. Virtual threads do not appear in
 * {@link Thread#getAllStackTraces()}, so this count is how tests (and operators) can tell that
 * nothing was left running; the threads themselves are in the JVM's thread dump
 * ({@code jcmd <pid> Thread.dump_to_file}), by name. A counter rather than a set of the threads: a
 * read loop that resumes starts a thread per message, and a set would be one more structure
 * shared by every connection on every core, written twice per message.
 *
 * <p>Nothing is meant to escape an stcp thread; if something does (a bug), it is logged at ERROR
 * ({@code thread.uncaught}) and counted in {@link #uncaught()}, which the test suite checks after
 * every test.
 */
public final class Threads {
    private static final LongAdder LIVE = new LongAdder();
    private static final LongAdder UNCAUGHT = new LongAdder();
    static final Thread.UncaughtExceptionHandler HANDLER = (t, e) -> {
        UNCAUGHT.increment();
        try {
            Log.SERVER.atError().setMessage("thread.uncaught").addKeyValue("thread", t.getName()).setCause(e).log();
        } catch (Throwable ignored) {
            // counted all the same
        }
    };

    private Threads() {}

    /** Starts a named virtual thread running {@code task}. */
    public static Thread start(String name, Runnable task) {
        return start(name, task, HANDLER);
    }

    /**
     * As {@link #start(String, Runnable)}, with {@code handler} for what escapes the thread: one
     * that passes it on to {@link #HANDLER} (logged and counted), and whose identity tells what the
     * thread runs for (a connection's reader threads carry their runner: see {@link OwingReader}).
     */
    static Thread start(String name, Runnable task, Thread.UncaughtExceptionHandler handler) {
        Thread t = Thread.ofVirtual().name(name).uncaughtExceptionHandler(handler).unstarted(() -> {
            try {
                task.run();
            } finally {
                LIVE.decrement();
            }
        });
        LIVE.increment();
        try {
            t.start();
        } catch (RuntimeException | Error e) {
            LIVE.decrement();
            throw e;
        }
        return t;
    }

    /**
     * Waits for {@code t} to end: {@code grace}, then it is interrupted and given {@code grace}
     * again. Interrupts of the calling thread meanwhile do not end the wait, and are left set.
     *
     * @return false if it still runs (the caller goes on without it, and says so)
     */
    static boolean joinOrLeave(Thread t, Duration grace) {
        boolean interrupted = false;
        long deadline = System.nanoTime() + grace.toNanos();
        boolean nudged = false;
        try {
            while (t.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    if (nudged) {
                        return false;
                    }
                    t.interrupt();
                    nudged = true;
                    deadline = System.nanoTime() + grace.toNanos();
                    continue;
                }
                try {
                    t.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            return true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** How many exceptions escaped stcp threads since the JVM started. */
    public static long uncaught() {
        return UNCAUGHT.sum();
    }

    /** How many threads started here are still running. */
    public static int live() {
        return (int) LIVE.sum();
    }
}
