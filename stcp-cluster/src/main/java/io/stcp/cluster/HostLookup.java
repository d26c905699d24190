package io.stcp.cluster;

import io.stcp.cluster.internal.ClusterThreads;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The addresses of the Redis host, looked up within a deadline. The JDK's name lookup takes no
 * timeout and cannot be interrupted (it waits for the resolver to give up, seconds or more), so it
 * runs on a thread of its own and a caller waits for it at most until its deadline. A lookup that
 * outlasts its caller is not started again by the next one: that caller waits for the same lookup
 * (within its own deadline), so a resolver that hangs costs one thread per bus, not one per call.
 * That thread ends when the resolver answers or gives up, whatever the callers do: closing the bus
 * does not wait for it, nor do the callers once it is closed ({@link #close()}).
 *
 * <p>States, guarded by {@link #lock}: idle ({@link #inFlight} null) — looking up ({@link #inFlight}
 * set, its thread running); the thread goes back to idle, then completes the future with the
 * addresses or the failure. A caller that comes when idle starts a lookup; one that comes while
 * looking up waits for that one. Closed is final, from either: the future of a lookup under way is
 * failed at once (its thread's answer then changes nothing), and a caller that comes after fails
 * at once, starting nothing. Nothing is kept between lookups: the JDK's own cache answers a
 * repeated lookup at once, and a changed address (a failover by DNS) is seen when that cache expires.
 */
final class HostLookup {
    /** A name lookup: {@link InetAddress#getAllByName} but in tests. */
    interface Resolver {
        InetAddress[] lookup(String host) throws UnknownHostException;
    }

    private final String host;
    private final String threadName;
    private final Resolver resolver;
    private final ReentrantLock lock = new ReentrantLock();
    private @Nullable CompletableFuture<InetAddress[]> inFlight; // guarded by lock
    private boolean closed; // guarded by lock

    HostLookup(String host, String threadName, Resolver resolver) {
        this.host = host;
        this.threadName = threadName;
        this.resolver = resolver;
    }

    /**
     * The host's addresses, in the resolver's order.
     *
     * @param end when the caller stops waiting ({@link System#nanoTime()})
     * @throws SocketTimeoutException when the lookup has not ended by {@code end} (it goes on)
     * @throws UnknownHostException when the lookup failed
     */
    InetAddress[] addresses(long end) throws IOException {
        CompletableFuture<InetAddress[]> f;
        lock.lock();
        try {
            if (closed) {
                throw closedException();
            }
            f = inFlight;
            if (f == null) {
                CompletableFuture<InetAddress[]> started = new CompletableFuture<>();
                try {
                    ClusterThreads.start(threadName, () -> lookUp(started));
                } catch (Throwable t) { // out of memory, say: nothing runs it, so no caller may wait for it
                    throw new UnknownHostException(host + ": the lookup could not start: " + t);
                }
                f = started;
                inFlight = started;
            }
        } finally {
            lock.unlock();
        }
        try {
            return f.get(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new SocketTimeoutException("name lookup of " + host + " not done in time");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new UnknownHostException(host + ": " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while looking up " + host);
        }
    }

    /**
     * Fails the lookup under way, if any, and every one asked for from now on: its callers, a bus
     * thread making a connection among them, return at once rather than wait for a resolver that
     * may not answer within the connect timeout. Its thread goes on until the resolver answers
     * (nothing can cut it short), and its answer is dropped. Idempotent; any thread.
     */
    void close() {
        CompletableFuture<InetAddress[]> f;
        lock.lock();
        try {
            closed = true;
            f = inFlight;
        } finally {
            lock.unlock();
        }
        if (f != null) {
            f.completeExceptionally(closedException());
        }
    }

    private SocketException closedException() {
        return new SocketException("name lookup of " + host + " cut: the bus closed");
    }

    /** The lookup's thread: whatever the resolver does (an {@code Error} too), the lookup ends and its callers are answered. */
    private void lookUp(CompletableFuture<InetAddress[]> f) {
        InetAddress[] found = null;
        Throwable failed = null;
        try {
            found = resolver.lookup(host);
        } catch (Throwable t) {
            failed = t;
        } finally {
            lock.lock();
            try {
                inFlight = null;
            } finally {
                lock.unlock();
            }
            if (failed != null) {
                f.completeExceptionally(failed);
            } else {
                f.complete(found);
            }
        }
    }
}
