package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.Durations;
import io.stcp.TcpClient;
import io.stcp.TcpServer;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.function.LongConsumer;

/**
 * The wait of {@link TcpServer#runUntilSignal(Duration, Duration)} and
 * {@link TcpClient#runUntilSignal(Duration)}: for SIGINT or SIGTERM ({@link Signals}), then a
 * graceful shutdown of the server (a drain first, if asked) or the client.
 *
 * <p>The first signal ends the wait; a second one closes the server or client at once, ending the
 * drain or the shutdown in progress. The signals are handled from the start of the wait until it
 * returns, by every server and client waiting at once ({@link Signals}); then they do what they
 * did before. A signal stays received: one that came before the wait began (it ended another
 * wait, or came while none waited but stcp still held the signals) is this wait's first signal,
 * and the server or client is shut down at once; only a signal after it is a second one. Where
 * signals cannot be handled, a shutdown hook plays the first signal and keeps the JVM up until it
 * has terminated. One that terminates by itself (closed from elsewhere, a server's accept loop
 * giving up, a client giving up) ends the wait too, without a shutdown.
 */
final class SignalShutdown {
    private SignalShutdown() {}

    /**
     * What the signals shut down: a server ({@link #of(TcpServer, SocketAddress, Duration, Duration)})
     * or a client ({@link #of(TcpClient, String, Duration)}).
     *
     * @param <X> what it throws when it terminated by itself, failing
     */
    interface Target<X extends Exception> {
        CompletableFuture<Void> termination();

        /** Logs the first signal: {@code server.signal}, {@code client.signal}. */
        void logSignal();

        /** The first signal's graceful shutdown; see the {@code runUntilSignal}s for the result. */
        boolean shutdown() throws InterruptedException;

        /** The second signal's: ends what is left at once, and does not wait. */
        void close();

        /** Once terminated by itself, without a signal: true, or what ended it is thrown. */
        boolean terminatedByItself() throws InterruptedException, X;
    }

    /**
     * Waits for a signal or the termination of the started {@code target}, then shuts it down.
     *
     * @return true if it terminated by itself without failing; else the shutdown's result: false
     *     if something accepted was discarded, by the shutdown or by a second signal's close
     * @throws X if it terminated by itself, failing (see {@link Target#terminatedByItself()})
     */
    static <X extends Exception> boolean await(Target<X> target) throws InterruptedException, X {
        CountDownLatch signalled = new CountDownLatch(1);
        Heard heard = new Heard();
        LongConsumer onSignal = n -> {
            heard.add(n, target::logSignal, target::close); // a second: stop waiting
            signalled.countDown();
        };
        Signals.Registration registration = Signals.handle(onSignal);
        Thread hook = null;
        if (registration == null) {
            hook = new Thread(() -> {
                onSignal.accept(1);
                awaitQuietly(target.termination());
            }, "stcp-shutdown-hook");
            Runtime.getRuntime().addShutdownHook(hook);
        } else if (registration.receivedBefore() > 0) {
            onSignal.accept(registration.receivedBefore()); // received already: shut down now
        }
        try {
            target.termination().whenComplete((ok, failure) -> signalled.countDown());
            signalled.await();
            if (!heard.any()) {
                return target.terminatedByItself();
            }
            // It tells whether a second signal's close discarded something accepted.
            return target.shutdown();
        } finally {
            // The signals go back to what they did before (ending the JVM), once no one waits for them.
            if (registration != null) {
                registration.close();
            } else {
                removeQuietly(hook);
            }
        }
    }

    /**
     * A server as a signal shuts it down: a drain of up to {@code drain}, if positive, then a
     * shutdown within {@code grace}; by itself it terminates closed from elsewhere, or with the
     * {@link AcceptException} of its accept loop giving up.
     *
     * @param address the address it listens on, for the {@code server.signal} line
     */
    static Target<AcceptException> of(TcpServer server, SocketAddress address, Duration drain, Duration grace) {
        return new Target<>() {
            @Override
            public CompletableFuture<Void> termination() {
                return server.termination();
            }

            @Override
            public void logSignal() {
                Log.SERVER.atInfo().setMessage("server.signal").addKeyValue("address", HostPort.format(address))
                        .addKeyValue("drain", Durations.format(drain)).addKeyValue("grace", Durations.format(grace)).log();
            }

            @Override
            public boolean shutdown() throws InterruptedException {
                if (drain.isPositive()) {
                    server.drain(drain);
                }
                return server.shutdown(grace); // after a drain that ended every connection, at once
            }

            @Override
            public void close() {
                server.close();
            }

            @Override
            public boolean terminatedByItself() throws InterruptedException, AcceptException {
                server.awaitTermination(); // rethrows an accept failure
                return true;
            }
        };
    }

    /**
     * A client as a signal shuts it down: a shutdown within {@code grace}; by itself it terminates
     * closed from elsewhere, with the {@link ConnectException} of giving up, or with what ended its
     * dialler thread (a bug, out of memory).
     *
     * @param address the address it dials, for the {@code client.signal} line
     */
    static Target<ConnectException> of(TcpClient client, String address, Duration grace) {
        return new Target<>() {
            @Override
            public CompletableFuture<Void> termination() {
                return client.termination();
            }

            @Override
            public void logSignal() {
                Log.CLIENT.atInfo().setMessage("client.signal").addKeyValue("address", address)
                        .addKeyValue("grace", Durations.format(grace)).log();
            }

            @Override
            public boolean shutdown() throws InterruptedException {
                return client.shutdown(grace);
            }

            @Override
            public void close() {
                client.close();
            }

            @Override
            public boolean terminatedByItself() throws InterruptedException, ConnectException {
                try {
                    client.termination().get();
                } catch (ExecutionException e) {
                    switch (e.getCause()) {
                        case ConnectException gaveUp -> throw gaveUp;
                        case RuntimeException failed -> throw failed; // what ended its dialler
                        case Error failed -> throw failed;
                        default -> throw new IllegalStateException("the client failed", e.getCause());
                    }
                }
                return true;
            }
        };
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
         * lock, so a second signal heard on another thread closes the server or client only after
         * the first one's {@code server.signal} or {@code client.signal} line.
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

    /** Removes the fallback's shutdown hook, unless it is running: the JVM is ending, and the hook waits for the server or client. */
    private static void removeQuietly(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down already
        }
    }

    /** For the shutdown hook: lets the JVM end only once the shutdown has completed, however it ended. */
    private static void awaitQuietly(CompletableFuture<Void> termination) {
        try {
            termination.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            // it gave up, or failed; nothing more to wait for
        }
    }
}
