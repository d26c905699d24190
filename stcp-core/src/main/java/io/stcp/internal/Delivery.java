package io.stcp.internal;

import io.stcp.QueueFullException;
import io.stcp.SendException;
import io.stcp.SendResult;
import io.stcp.Sender;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One fan-out call: offers a message to each recipient without waiting, remembers the ones that
 * would have waited for room, and waits for all of them together in {@link #finish()}, each at
 * most its own limit counted from the start of the call (see {@link io.stcp.Fanout}). Counts the
 * outcome.
 *
 * <p><b>Waiting together.</b> Each recipient that would wait has an entry in one
 * {@link RoomWatch}, registered in its queue by an offer that finds it still full. The calling
 * thread parks once for all of them, and offers again to a recipient as soon as its queue makes
 * room (or closes); so a recipient whose room comes while another still waits has the message at
 * once. It also offers again to the recipients whose deadline has come (each then refused, as a
 * put that waited its limit is, or accepted if room came just then), and, if the thread is
 * interrupted, to every one still waiting (refused, counted full, where there is still no room).
 * No thread is started; what it holds is one entry per recipient that waits, dropped on return
 * and on anything thrown. A connection's reader that owes its own peer a drain
 * ({@link OwingReader}) pays it before it registers anything: its peer's replies never wait behind
 * another recipient's room, and no fan-out waiting behind it at a queue waits for its write.
 * The call returns once every recipient has accepted or refused, so a later fan-out from the same
 * thread never overtakes this one at any recipient.
 *
 * <p>Used by one thread, once: {@link #offer} for each recipient, then {@link #finish()}.
 */
final class Delivery {
    private static final RateLimiter FAILURE_LOG = new RateLimiter(TimeUnit.SECONDS.toNanos(1));

    private final @Nullable Object key;
    private final byte[] bytes;
    private final long sinceNanos = System.nanoTime();
    private @Nullable RoomWatch watch; // its entries: the recipients that would have waited
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
        if (put(sender, null) == Boolean.FALSE) {
            if (watch == null) {
                watch = new RoomWatch();
            }
            watch.entry(sender);
        }
    }

    /** Waits for the recipients that would have waited, each its own limit; returns the counts. */
    SendResult finish() {
        if (watch != null) {
            List<RoomWatch.Entry> deferred = watch.entries();
            try {
                // Before any entry is registered: a reader that owes its own peer a drain writes
                // it now, not after the others' room (its peer would wait behind them), nor while
                // told of room (the fan-outs behind it at that queue would wait for its write); and it
                // parks its read buffer, as before any wait for room.
                OwingReader.readyToWait();
                awaitRoom(watch, deferred);
            } finally {
                dropWaiting(deferred); // whatever ended the wait: no entry stays registered
                watch = null;
            }
        }
        return accepted + full + closed + failed == 0 ? SendResult.NONE
                : new SendResult(accepted, full, closed, failed, 0);
    }

    /** Offers to each of {@code waiting} again, and again as their queues make room, until each has accepted or refused. */
    private void awaitRoom(RoomWatch watch, List<RoomWatch.Entry> waiting) {
        int left = 0;
        for (RoomWatch.Entry e : waiting) {
            if (!settled(e)) {
                left++;
            }
        }
        long due = earliestDeadline(waiting);
        while (left > 0) {
            RoomWatch.Entry e = watch.next(due);
            if (e != null) {
                if (!e.done && settled(e)) {
                    left--;
                }
                continue;
            }
            // a deadline came, or the thread is interrupted
            boolean interrupted = Thread.currentThread().isInterrupted();
            long now = System.nanoTime();
            for (RoomWatch.Entry w : waiting) {
                if (!w.done && (interrupted || w.deadline != Long.MIN_VALUE && w.deadline - now <= 0) && settled(w)) {
                    left--;
                }
            }
            due = earliestDeadline(waiting);
        }
    }

    /** Offers to {@code e}'s recipient, registering it again where it would still wait; true if it accepted or refused. */
    private boolean settled(RoomWatch.Entry e) {
        e.done = put(e.sender, e) != Boolean.FALSE;
        return e.done;
    }

    /**
     * Gives up every entry that has not settled (an Error escaped the wait), each whatever giving
     * up another throws, so that none is left in a queue to be told of room for a call that is over.
     */
    private static void dropWaiting(List<RoomWatch.Entry> entries) {
        Throwable failure = null;
        for (RoomWatch.Entry e : entries) {
            if (!e.done) {
                try {
                    drop(e);
                } catch (RuntimeException | Error t) {
                    failure = failure == null ? t : failure;
                }
            }
        }
        if (failure instanceof Error err) {
            throw err;
        } else if (failure != null) {
            throw (RuntimeException) failure;
        }
    }

    /** Unregisters {@code e} from its queue if it registered there: see {@link BoundedQueue#dropWatch}. */
    private static void drop(RoomWatch.Entry e) {
        if (e.queue != null) {
            e.queue.dropWatch(e);
        }
    }

    /** The earliest deadline among the entries still waiting; Long.MIN_VALUE when none has one. */
    private static long earliestDeadline(List<RoomWatch.Entry> waiting) {
        long due = Long.MIN_VALUE;
        for (RoomWatch.Entry e : waiting) {
            if (!e.done && e.deadline != Long.MIN_VALUE && (due == Long.MIN_VALUE || e.deadline - due < 0)) {
                due = e.deadline;
            }
        }
        return due;
    }

    /**
     * @param watch null for the first offer; else {@code sender}'s entry, registered where it would wait
     * @return TRUE if accepted, FALSE if it would wait (registered when {@code watch} is given), null
     *     if refused (counted)
     */
    private @Nullable Boolean put(Sender sender, RoomWatch.@Nullable Entry watch) {
        try {
            if (FanoutPut.offer(sender, key, bytes, sinceNanos, watch)) {
                accepted++;
                return Boolean.TRUE;
            }
            return Boolean.FALSE;
        } catch (QueueFullException e) {
            full++;
        } catch (SendException e) {
            closed++;
        } catch (RuntimeException | Error e) { // a bug in a custom sender, an assert: that recipient's alone
            failed++;
            if (watch != null) {
                drop(watch); // an Error after the queue registered it
            }
            long held = FAILURE_LOG.tryAcquire();
            if (held >= 0) {
                try {
                    Log.suppressed(Log.conn(Log.WARN, "registry.send.failed", sender.connection()), held)
                            .setCause(e).log();
                } catch (RuntimeException | Error logFailed) {
                    // a sender broken beyond its put: counted all the same
                }
            }
        }
        return null;
    }
}
