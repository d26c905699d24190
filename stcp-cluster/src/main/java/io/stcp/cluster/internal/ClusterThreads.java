package io.stcp.cluster.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;

/**
 * Starts every thread of this module (virtual threads, named {@code stcp-cluster-...}) and knows
 * which are still running, so that tests can fail when one is left behind.
 */
public final class ClusterThreads {
    private static final Set<Thread> LIVE = ConcurrentHashMap.newKeySet();

    private ClusterThreads() {
    }

    /** Starts {@code task} on a new virtual thread named {@code name}. */
    public static Thread start(String name, Runnable task) {
        Thread[] self = new Thread[1];
        Thread t = Thread.ofVirtual().name(name).unstarted(() -> {
            try {
                task.run();
            } finally {
                LIVE.remove(self[0]);
            }
        });
        self[0] = t;
        LIVE.add(t);
        t.start();
        return t;
    }

    /**
     * Makes threads for an executor: virtual, named {@code name}, and known to {@link #live()}
     * from when they start running until they end.
     */
    public static ThreadFactory factory(String name) {
        return task -> Thread.ofVirtual().name(name).unstarted(() -> {
            Thread self = Thread.currentThread();
            LIVE.add(self);
            try {
                task.run();
            } finally {
                LIVE.remove(self);
            }
        });
    }

    /** The threads started here that have not ended yet. */
    public static Set<Thread> live() {
        return Set.copyOf(LIVE);
    }
}
