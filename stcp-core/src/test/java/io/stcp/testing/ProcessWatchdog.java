package io.stcp.testing;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Kills a child process that outlives its time, so that a test reading its output fails instead of
 * hanging. A read of a pipe ignores interrupts, so JUnit's timeout cannot end it: a server that
 * never answers {@code openssl s_client} used to stop the whole build there.
 *
 * <pre>{@code
 * try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(20))) {
 *     byte[] echoed = p.getInputStream().readNBytes(n);  // short once the watchdog has fired
 *     watchdog.assertNotFired("the echo");
 * }
 * }</pre>
 */
public final class ProcessWatchdog implements AutoCloseable {
    private final Process process;
    private final Duration limit;
    private final CompletableFuture<Void> kill;
    private volatile boolean fired;

    private ProcessWatchdog(Process process, Duration limit) {
        this.process = process;
        this.limit = limit;
        this.kill = CompletableFuture.runAsync(this::fire,
                CompletableFuture.delayedExecutor(limit.toNanos(), TimeUnit.NANOSECONDS));
    }

    /** Kills {@code process} once {@code limit} has passed, unless {@link #close()} came first. */
    public static ProcessWatchdog watch(Process process, Duration limit) {
        return new ProcessWatchdog(process, limit);
    }

    private void fire() {
        fired = true;
        process.destroyForcibly();
    }

    /** Whether the process was killed for outliving its time. */
    public boolean fired() {
        return fired;
    }

    /** Fails if the process was killed for outliving its time, naming what it was doing. */
    public void assertNotFired(String what) {
        if (fired) {
            String after = limit.toMillis() % 1000 == 0 ? limit.toSeconds() + " s" : limit.toMillis() + " ms";
            throw new AssertionError(process.info().command().orElse("the process") + " was killed after " + after
                    + ", still waiting for " + what);
        }
    }

    /** The process is done with (or about to be killed anyway): the watchdog stands down. */
    @Override
    public void close() {
        kill.cancel(false); // a cancelled runAsync never runs its action
    }
}
