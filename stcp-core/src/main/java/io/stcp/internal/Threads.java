package io.stcp.internal;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Starts stcp's virtual threads and counts the live ones. Virtual threads do not appear in
 * {@link Thread#getAllStackTraces()}, so this count is how tests (and operators) can tell that
 * nothing was left running.
 *
 * <p>Nothing is meant to escape an stcp thread; if something does (a bug), it is logged at ERROR
 * ({@code thread.uncaught}) and counted in {@link #uncaught()}, which the test suite checks after
 * every test.
 */
public final class Threads {
    private static final Set<Thread> LIVE = ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicLong UNCAUGHT = new java.util.concurrent.atomic.AtomicLong();
    private static final Thread.UncaughtExceptionHandler HANDLER = (t, e) -> {
        UNCAUGHT.incrementAndGet();
        try {
            Log.SERVER.atError().setMessage("thread.uncaught").addKeyValue("thread", t.getName()).setCause(e).log();
        } catch (Throwable ignored) {
            // counted all the same
        }
    };

    private Threads() {}

    /** Starts a named virtual thread running {@code task}. */
    public static Thread start(String name, Runnable task) {
        Thread t = Thread.ofVirtual().name(name).uncaughtExceptionHandler(HANDLER).unstarted(() -> {
            try {
                task.run();
            } finally {
                LIVE.remove(Thread.currentThread());
            }
        });
        LIVE.add(t);
        try {
            t.start();
        } catch (RuntimeException | Error e) {
            LIVE.remove(t);
            throw e;
        }
        return t;
    }

    /** How many exceptions escaped stcp threads since the JVM started. */
    public static long uncaught() {
        return UNCAUGHT.get();
    }

    /** How many threads started here are still running. */
    public static int live() {
        return LIVE.size();
    }

    /** The threads started here that are still running. */
    public static List<Thread> liveThreads() {
        return List.copyOf(LIVE);
    }
}
