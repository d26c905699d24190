package io.stcp.examples;

import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * Turns SIGINT and SIGTERM into a graceful shutdown followed by a normal return from main, so the
 * process exits 0 (a JVM killed by a signal exits 130/143 and skips the application's own
 * shutdown sequence).
 */
final class Signals {
    private Signals() {}

    /** A blocking shutdown action. */
    @FunctionalInterface
    interface Shutdown {
        void run() throws Exception;
    }

    /**
     * Runs {@code shutdown} on a new thread at the first SIGINT or SIGTERM.
     *
     * @return a latch released when the shutdown has finished
     */
    static CountDownLatch onTermination(Shutdown shutdown) {
        CountDownLatch done = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();
        for (String name : new String[] {"INT", "TERM"}) {
            Signal.handle(new Signal(name), s -> {
                if (once.compareAndSet(false, true)) {
                    Thread.ofPlatform().name("stcp-shutdown").start(() -> {
                        try {
                            shutdown.run();
                        } catch (Exception e) {
                            org.slf4j.LoggerFactory.getLogger(Signals.class).warn("shutdown failed", e);
                        } finally {
                            done.countDown();
                        }
                    });
                }
            });
        }
        return done;
    }
}
