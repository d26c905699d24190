package io.stcp.internal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Starts stcp's virtual threads and counts the live ones. Virtual threads do not appear in
 * {@link Thread#getAllStackTraces()}, so this count is how tests (and operators) can tell that
 * nothing was left running.
 */
public final class Threads {
    private static final AtomicInteger LIVE = new AtomicInteger();

    private Threads() {}

    /** Starts a named virtual thread running {@code task}. */
    public static Thread start(String name, Runnable task) {
        LIVE.incrementAndGet();
        try {
            return Thread.ofVirtual().name(name).start(() -> {
                try {
                    task.run();
                } finally {
                    LIVE.decrementAndGet();
                }
            });
        } catch (RuntimeException | Error e) {
            LIVE.decrementAndGet();
            throw e;
        }
    }

    /** How many threads started here are still running. */
    public static int live() {
        return LIVE.get();
    }
}
