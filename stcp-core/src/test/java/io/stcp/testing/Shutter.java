package io.stcp.testing;

import io.stcp.TcpClient;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A client's {@link TcpClient#shutdown(Duration)} on a platform thread of its own ("shutter"),
 * for a test that acts while it is under way: {@link #start} returns once that thread is in a
 * timed wait — its flush, say, or the end of a close it found under way (not the client's lock,
 * whose wait is untimed).
 *
 * @param thread the shutter thread
 * @param result what the shutdown returns, or what it throws
 */
public record Shutter(Thread thread, CompletableFuture<Boolean> result) {
    /** Starts {@code client.shutdown(grace)} and waits, at most {@code wait}, until it waits. */
    public static Shutter start(TcpClient client, Duration grace, Duration wait) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("shutter").start(() -> {
            try {
                result.complete(client.shutdown(grace));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        Awaitility.await().atMost(wait).until(() -> t.getState() == Thread.State.TIMED_WAITING);
        return new Shutter(t, result);
    }

    /** What the shutdown returned, within {@code wait}, once its thread has ended. */
    public boolean returned(Duration wait) throws Exception {
        boolean r = result.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        thread.join(wait);
        return r;
    }
}
