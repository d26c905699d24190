package io.stcp.internal;

import io.stcp.AcceptException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * When a {@link RealTcpServer} has terminated — closed, its accept loop ended, its last
 * connection exited — and the waits for it.
 *
 * <p><b>States.</b> Three conditions, each made true once and never undone: {@link #closed}
 * (close, drain or shutdown stopped the listener), {@link #acceptEnded} (the accept loop returned
 * or gave up; at once if the server closes before it started), and no live connection
 * ({@link Admission#liveCount()}). Every change that may make the last of them true is followed by
 * {@link #maybeTerminate}; the first call that sees all three wins {@link #terminating}, logs
 * {@code server.stop} and completes {@link #future}: normally, or with the {@link #acceptFailure}
 * if the accept loop gave up. The failure is written before {@link #acceptEnded} (both volatile),
 * so whoever sees the loop ended sees the failure.
 *
 * <p><b>Back-off.</b> The accept loop sleeps its back-offs here ({@link #backOff}), so that a close
 * ends the sleep: a loop backing off for up to {@code acceptMaxDelay} would otherwise hold the
 * termination (and a drain's answer) until it woke.
 */
final class ServerTermination {
    private final Admission admission; // the live count, and the counts of the server.stop line
    private volatile boolean closed;
    private volatile boolean acceptEnded;
    private volatile AcceptException acceptFailure;
    private final AtomicBoolean terminating = new AtomicBoolean(); // set once, by the one that ends the server
    private final CompletableFuture<Void> future = new CompletableFuture<>();
    private final CountDownLatch closing = new CountDownLatch(1); // counted down by closed(): ends a back-off

    ServerTermination(Admission admission) {
        this.admission = admission;
    }

    /** The listener is closed; with {@code started} false there never was an accept loop to end. */
    void closed(boolean started) {
        closed = true;
        if (!started) {
            acceptEnded = true;
        }
        closing.countDown();
    }

    /** The accept loop's back-off ({@link AcceptLoop.Sleeper}): sleeps {@code nanos}, or less if the server closes meanwhile. */
    void backOff(long nanos) throws InterruptedException {
        closing.await(nanos, TimeUnit.NANOSECONDS);
    }

    boolean isClosed() {
        return closed;
    }

    /** The accept loop has ended: by itself (the listener closed), or giving up with {@code failure}. */
    void acceptEnded(AcceptException failure) {
        acceptFailure = failure;
        acceptEnded = true;
    }

    /**
     * Completes the termination if the server is closed, its accept loop ended and no connection is
     * live; {@code address} is the one its {@code server.stop} line names.
     */
    void maybeTerminate(String address) {
        if (closed && acceptEnded && admission.liveCount() == 0 && terminating.compareAndSet(false, true)) {
            AcceptException failure = acceptFailure;
            // logged before the termination completes: whoever waits for it sees the line first; not
            // under slf4j-api 1.7, where only a server that never started can get here; a line that
            // throws (a failing backend, a full heap) still lets the termination complete
            try {
                if (Log.hasSlf4j2()) {
                    Log.SERVER.atInfo().setMessage("server.stop").addKeyValue("address", address)
                            .addKeyValue("accepted", admission.acceptedCount()).addKeyValue("rejected", admission.rejectedCount())
                            .addKeyValue("acceptFailed", failure != null).log();
                }
            } finally {
                if (failure == null) {
                    future.complete(null);
                } else {
                    future.completeExceptionally(failure);
                }
            }
        }
    }

    /** For {@link io.stcp.TcpServer#termination()}: a copy, which callers cannot complete. */
    CompletableFuture<Void> copy() {
        return future.copy();
    }

    /** Waits for termination; rethrows the accept loop's failure. */
    void await() throws InterruptedException, AcceptException {
        try {
            future.get();
        } catch (ExecutionException e) {
            throw (AcceptException) e.getCause();
        }
    }

    /** Waits up to {@code timeout} for termination; false if it timed out; rethrows the accept loop's failure. */
    boolean await(Duration timeout) throws InterruptedException, AcceptException {
        try {
            future.get(Nanos.clamp(timeout), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw (AcceptException) e.getCause();
        }
    }

    /** Waits for termination until {@code deadline} (0 = none); false on timeout or accept failure. */
    boolean awaitQuietly(long deadline) throws InterruptedException {
        try {
            if (deadline == 0) {
                future.get();
            } else {
                future.get(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return false; // the accept loop gave up: the connections were closed, not drained
        }
    }
}
