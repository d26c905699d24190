package io.stcp.internal;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Starts stcp's virtual threads and counts the live ones. Virtual threads do not appear in
 * {@link Thread#getAllStackTraces()}, so this count is how tests (and operators) can tell that
 * nothing was left running.
 */
public final class Threads {
    private static final Set<Thread> LIVE = ConcurrentHashMap.newKeySet();

    private Threads() {}

    /** Starts a named virtual thread running {@code task}. */
    public static Thread start(String name, Runnable task) {
        Thread t = Thread.ofVirtual().name(name).unstarted(() -> {
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

    /** How many threads started here are still running. */
    public static int live() {
        return LIVE.size();
    }

    /** The threads started here that are still running. */
    public static List<Thread> liveThreads() {
        return List.copyOf(LIVE);
    }
}
