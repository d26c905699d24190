package io.stcp.internal;

import io.stcp.QueueFullException;
import io.stcp.SendException;
import io.stcp.SendResult;
import io.stcp.Sender;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One fan-out call: offers a message to each recipient without waiting, remembers the ones that
 * would have waited for room, and visits them again in {@link #finish()}, each waiting at most its
 * own limit counted from the start of the call (see {@link io.stcp.Fanout}). Counts the outcome.
 *
 * <p>Used by one thread, once: {@link #offer} for each recipient, then {@link #finish()}.
 */
final class Delivery {
    private static final RateLimiter FAILURE_LOG = new RateLimiter(TimeUnit.SECONDS.toNanos(1));

    private final @Nullable Object key;
    private final byte[] bytes;
    private final long sinceNanos = System.nanoTime();
    private @Nullable List<Sender> deferred;
    private int accepted;
    private int full;
    private int closed;
    private int failed;

    /** @param key an {@link Integer} or {@link String} key, or null for a plain message */
    Delivery(@Nullable Object key, byte[] bytes) {
        this.key = key;
        this.bytes = java.util.Objects.requireNonNull(bytes, "bytes");
    }

    /** Offers the message to {@code sender} without waiting; a recipient that would wait is kept for {@link #finish()}. */
    void offer(Sender sender) {
        if (put(sender, false) == Boolean.FALSE) {
            if (deferred == null) {
                deferred = new ArrayList<>();
            }
            deferred.add(sender);
        }
    }

    /** Visits the recipients that would have waited, letting each wait its own limit; returns the counts. */
    SendResult finish() {
        if (deferred != null) {
            for (Sender s : deferred) {
                put(s, true);
            }
            deferred = null;
        }
        return accepted + full + closed + failed == 0 ? SendResult.NONE
                : new SendResult(accepted, full, closed, failed, 0);
    }

    /** @return TRUE if accepted, FALSE if it would wait (only when {@code !mayWait}), null if refused (counted) */
    private @Nullable Boolean put(Sender sender, boolean mayWait) {
        try {
            if (FanoutPut.offer(sender, key, bytes, sinceNanos, mayWait)) {
                accepted++;
                return Boolean.TRUE;
            }
            if (mayWait) { // a sender that will not wait even when allowed: it is full
                full++;
                return null;
            }
            return Boolean.FALSE;
        } catch (QueueFullException e) {
            full++;
        } catch (SendException e) {
            closed++;
        } catch (RuntimeException | Error e) { // a bug in a custom sender, an assert: that recipient's alone
            failed++;
            long held = FAILURE_LOG.tryAcquire();
            if (held >= 0) {
                try {
                    Log.conn(Log.WARN, "registry.send.failed", sender.connection()).addKeyValue("suppressed", held)
                            .setCause(e).log();
                } catch (RuntimeException | Error logFailed) {
                    // a sender broken beyond its put: counted all the same
                }
            }
        }
        return null;
    }
}
