package io.stcp.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * When a {@link RealTcpClient} has ended, and the waits for it.
 *
 * <p><b>States.</b> Two events, each happening once and never undone (the first completion of a
 * future wins; later ones change nothing): the close is done ({@link #closeDone}) — whoever moved
 * the client to CLOSED ({@link ClientLifecycle#stop}) has ended its connection, and says whether
 * that failed (its sender threw: what it held is unknown) —, and the client has terminated
 * ({@link #terminated}: closed, and its dialler ended, so its last connection has exited) —
 * normally, or with the {@link java.net.ConnectException} of giving up, or the throwable that
 * ended the dialler. A shutdown that finds the client closed already waits for both
 * ({@link #awaitClose}), so it cannot report as written what a close before it discarded.
 */
final class ClientTermination {
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final CompletableFuture<Boolean> closeDone = new CompletableFuture<>(); // true: its end failed

    /** The client has terminated: normally if {@code failure} is null, else with it. */
    void terminated(@Nullable Throwable failure) {
        if (failure == null) {
            terminated.complete(null);
        } else {
            terminated.completeExceptionally(failure);
        }
    }

    /** The close that moved the client to CLOSED has ended its connection; {@code failed} if that threw. */
    void closeDone(boolean failed) {
        closeDone.complete(failed);
    }

    /** Waits for the termination until {@code deadline} (0 = none), however it completes; false on timeout. */
    boolean await(long deadline) throws InterruptedException {
        return awaitQuietly(terminated, deadline);
    }

    /** Waits for the termination, then for the close to be done, both until {@code deadline}; false on timeout. */
    boolean awaitClose(long deadline) throws InterruptedException {
        return awaitQuietly(terminated, deadline) && awaitQuietly(closeDone, deadline);
    }

    /** Whether it terminated having given up or failed; once terminated. */
    boolean failed() {
        return terminated.isCompletedExceptionally();
    }

    /** Whether the close that moved the client to CLOSED failed to end its connection; once it is done. */
    boolean closeFailed() {
        return closeDone.join();
    }

    /** The termination as {@link io.stcp.TcpClient#termination()} hands it out: a copy, for callers to complete. */
    CompletableFuture<Void> copy() {
        return terminated.copy();
    }

    /** Waits for {@code f} until {@code deadline} (0 = none), however it completes; false on timeout. */
    private static boolean awaitQuietly(CompletableFuture<?> f, long deadline) throws InterruptedException {
        try {
            if (deadline == 0) {
                f.get();
            } else {
                f.get(Nanos.left(deadline, System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true; // gave up: terminated all the same
        }
    }
}
