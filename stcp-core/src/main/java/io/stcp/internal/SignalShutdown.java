package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.Durations;
import io.stcp.TcpServer;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.LongConsumer;

/**
 * The wait of {@link TcpServer#runUntilSignal(Duration, Duration)}: for SIGINT or SIGTERM
 * ({@link Signals}), then a drain and a graceful shutdown of the server.
 *
 * <p>The first signal ends the wait; a second one closes the server at once, ending the drain or
 * the shutdown in progress. The signals are handled from the start of the wait until it returns,
 * by every server waiting at once ({@link Signals}); then they do what they did before. A signal
 * stays received: one that came before the wait began (it ended another server's wait, or came
 * while no server waited but stcp still held the signals) is this wait's first signal, and the
 * server is shut down at once; only a signal after it is a second one. Where signals cannot be
 * handled, a shutdown hook plays the first signal and keeps the JVM up until the server has
 * terminated. A server that terminates by itself (closed from elsewhere, or its accept loop giving
 * up) ends the wait too, without a shutdown.
 */
final class SignalShutdown {
    private SignalShutdown() {}

    /**
     * Waits for a signal or the termination of the started {@code server}, then shuts it down.
     *
     * @param address the address it listens on, for the {@code server.signal} line
     * @return true if the server terminated by itself, or every connection ended within the drain
     *     or drained within {@code grace} and nothing accepted was discarded, by the shutdown or by
     *     a second signal's close
     * @throws AcceptException if the server terminated by itself because its accept loop gave up
     */
    static boolean await(TcpServer server, SocketAddress address, Duration drain, Duration grace)
            throws InterruptedException, AcceptException {
        CountDownLatch signalled = new CountDownLatch(1);
        Heard heard = new Heard();
        LongConsumer onSignal = n -> {
            heard.add(n, () -> logSignal(address, drain, grace), server::close); // a second: stop waiting
            signalled.countDown();
        };
        Signals.Registration registration = Signals.handle(onSignal);
        Thread hook = null;
        if (registration == null) {
            hook = new Thread(() -> {
                onSignal.accept(1);
                awaitUninterruptibly(server);
            }, "stcp-shutdown-hook");
            Runtime.getRuntime().addShutdownHook(hook);
        } else if (registration.receivedBefore() > 0) {
            onSignal.accept(registration.receivedBefore()); // received already: shut down now
        }
        try {
            server.termination().whenComplete((ok, failure) -> signalled.countDown());
            signalled.await();
            if (!heard.any()) {
                server.awaitTermination(); // terminated by itself: rethrows an accept failure
                return true;
            }
            if (drain.isPositive()) {
                server.drain(drain);
            }
            // After a drain that ended every connection it returns at once; either way it tells
            // whether a second signal's close discarded something accepted.
            return server.shutdown(grace);
        } finally {
            // The signals go back to what they did before (ending the JVM), once no server waits for them.
            if (registration != null) {
                registration.close();
            } else {
                removeQuietly(hook);
            }
        }
    }

    /**
     * The signals one wait has heard, by their number ({@link Signals}): the lowest is its first
     * signal — all those received before the wait count as that one — and any higher one is a
     * second. Numbers may come in any order (one received during the registration is both counted
     * before it and handed to the handler).
     */
    private static final class Heard {
        private long lowest = Long.MAX_VALUE; // guarded by this
        private long highest;                 // guarded by this; 0: none heard

        /**
         * Notes signal {@code n}: runs {@code first} on the first signal heard, and {@code second}
         * once two different signals have been heard (again on each later one). Both run under this
         * lock, so a second signal heard on another thread closes the server only after the first
         * one's {@code server.signal} line.
         */
        synchronized void add(long n, Runnable first, Runnable second) {
            boolean none = highest == 0;
            lowest = Math.min(lowest, n);
            highest = Math.max(highest, n);
            if (none) {
                first.run();
            } else if (highest > lowest) {
                second.run();
            }
        }

        synchronized boolean any() {
            return highest > 0;
        }
    }

    private static void logSignal(SocketAddress address, Duration drain, Duration grace) {
        Log.SERVER.atInfo().setMessage("server.signal").addKeyValue("address", HostPort.format(address))
                .addKeyValue("drain", Durations.format(drain)).addKeyValue("grace", Durations.format(grace)).log();
    }

    /** Removes the fallback's shutdown hook, unless it is running: the JVM is ending, and the hook waits for the server. */
    private static void removeQuietly(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down already
        }
    }

    /** For the shutdown hook: lets the JVM end only once the shutdown has completed. */
    private static void awaitUninterruptibly(TcpServer server) {
        try {
            server.awaitTermination();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (AcceptException e) {
            // the accept loop gave up; nothing more to wait for
        }
    }
}
