package io.stcp.internal;

import io.stcp.AcceptException;
import io.stcp.Durations;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * Accepts connections until the listener closes, backing off on errors.
 *
 * <p>Any {@link IOException} other than a closed listener (EMFILE, ENFILE, ECONNABORTED, ...) is
 * treated as temporary: the loop sleeps {@code delay}, which starts at {@code initialDelay} and
 * doubles after each consecutive failure but never exceeds {@code maxDelay}, then retries. A
 * successful accept resets the delay and the failure count. With {@code maxRetry = N > 0} the loop
 * retries N times; the (N+1)th failure in a row ends it with an {@link AcceptException}. A closed
 * listener, or an interrupt, ends it normally.
 *
 * <p>A handler that throws (a bug, or a connection thread that cannot be started) costs only that
 * connection: the channel is closed, a WARN line {@code server.accept.handler.failed} is written
 * (at most once a second, with the number suppressed) and the loop goes on accepting. An
 * {@link Error} from the accept call itself ({@link OutOfMemoryError}) is a failure like any
 * other: the loop backs off and tries again, so memory pressure elsewhere never stops accepting.
 */
public final class AcceptLoop {

    /** The accept call; a seam so tests can inject failures. */
    @FunctionalInterface
    public interface Acceptor {
        SocketChannel accept() throws IOException;
    }

    /** The back-off sleep, which may end early once the server closes; a seam so tests can record the sequence. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(long nanos) throws InterruptedException;

        Sleeper REAL = TimeUnit.NANOSECONDS::sleep;
    }

    private final Acceptor acceptor;
    private final Consumer<SocketChannel> handler;
    private final long initialDelayNanos;
    private final long maxDelayNanos;
    private final int maxRetry;
    private final Sleeper sleeper;
    private final BooleanSupplier closed;
    private final RateLimiter errorLog = new RateLimiter(TimeUnit.SECONDS.toNanos(1));
    private final java.util.concurrent.atomic.LongAdder errors = new java.util.concurrent.atomic.LongAdder();
    private final RateLimiter handlerErrorLog = new RateLimiter(TimeUnit.SECONDS.toNanos(1));

    public AcceptLoop(Acceptor acceptor, Consumer<SocketChannel> handler, Duration initialDelay, Duration maxDelay,
                      int maxRetry, Sleeper sleeper, BooleanSupplier closed) {
        this.acceptor = acceptor;
        this.handler = handler;
        this.initialDelayNanos = Nanos.clamp(initialDelay);
        this.maxDelayNanos = Nanos.clamp(maxDelay);
        this.maxRetry = maxRetry;
        this.sleeper = sleeper;
        this.closed = closed;
    }

    /** The delay after {@code previous} (0 = none yet): doubled, capped, never above the maximum. */
    long nextDelay(long previous) {
        if (previous == 0) {
            return Math.min(initialDelayNanos, maxDelayNanos);
        }
        return previous > maxDelayNanos / 2 ? maxDelayNanos : previous * 2;
    }

    /** Accept calls that failed so far. */
    long errors() {
        return errors.sum();
    }

    /** Runs until the listener closes (returns) or retries are exhausted (throws). */
    public void run() throws AcceptException {
        long delay = 0;
        int failures = 0;
        while (true) {
            SocketChannel channel;
            try {
                channel = acceptor.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException | RuntimeException | Error e) {
                if (closed.getAsBoolean() || Thread.currentThread().isInterrupted()) {
                    return;
                }
                failures++;
                errors.increment();
                if (maxRetry > 0 && failures > maxRetry) {
                    throw new AcceptException("accept failed " + failures + " times in a row, giving up"
                            + " (acceptMaxRetry=" + maxRetry + ")", e);
                }
                delay = nextDelay(delay);
                long held = errorLog.tryAcquire();
                if (held >= 0) {
                    try {
                        Log.suppressed(Log.SERVER.atWarn().setMessage("server.accept.retry")
                                .addKeyValue("failures", failures)
                                .addKeyValue("retryIn", Durations.format(Duration.ofNanos(delay))), held)
                                        .addKeyValue("error", e.toString()).log();
                    } catch (Throwable logFailed) {
                        // out of memory even for the line: back off all the same
                    }
                }
                JfrEvents.AcceptBackoff backoff = JfrEvents.beginAcceptBackoff();
                try {
                    sleeper.sleep(delay);
                } catch (InterruptedException ie) {
                    return;
                }
                JfrEvents.endAcceptBackoff(backoff, failures, delay, e); // a close may cut it short: the accept then ends the loop
                continue;
            }
            failures = 0;
            delay = 0;
            try {
                handler.accept(channel);
            } catch (Throwable e) {
                try {
                    handlerFailed(channel, e);
                } catch (Throwable logFailed) {
                    // the channel is closed first thing in handlerFailed; go on accepting
                }
            }
        }
    }

    private void handlerFailed(SocketChannel channel, Throwable e) {
        SocketAddress remote = null;
        if (channel != null) {
            try {
                remote = channel.getRemoteAddress();
            } catch (IOException | RuntimeException ignored) {
                // closed meanwhile: log without it
            }
            Quietly.close(channel, "socket");
        }
        long held = handlerErrorLog.tryAcquire();
        if (held >= 0) {
            LoggingEventBuilder line = Log.SERVER.atWarn().setMessage("server.accept.handler.failed");
            if (remote != null) {
                line.addKeyValue(Log.REMOTE_ADDR, HostPort.format(remote));
            }
            Log.suppressed(line, held).setCause(e).log();
        }
    }
}
