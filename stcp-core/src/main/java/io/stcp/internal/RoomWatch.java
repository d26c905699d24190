package io.stcp.internal;

import io.stcp.Sender;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Lets one fan-out wait for room in many send queues at once, on its own thread: each recipient
 * that waits has an {@link Entry} registered in its queue, and the queue, when it makes room
 * (a batch taken, a smaller conflated value, a close), hands the entry to this watch and unparks
 * the fan-out's thread, which then offers the message to that recipient again (see
 * {@link Delivery}). A queue with several fan-outs waiting tells them one at a time while it has
 * room, all at a close ({@link RoomWatchers}). No thread is started: a fan-out waits with one thread whatever the number
 * of its recipients, and holds one entry for each recipient that waits.
 *
 * <p><b>An entry's states.</b> IDLE (in no queue's list) → WAITING: an offer that would wait
 * links it into its queue's list ({@link RoomWatchers#add}), under that queue's lock, in
 * the same step as it finds the queue full, so no room made after that look goes unnoticed.
 * WAITING → TOLD: the queue makes room (or closes): it marks the entry {@link Entry#told} before
 * anything else, then unlinks it, hands it to its watch's {@link #ready} queue and unparks its
 * owner ({@link Entry#ready()}). The mark is a field write, which nothing can interrupt; the
 * hand-over and the unpark may throw (an OutOfMemoryError queueing it, a StackOverflowError in
 * the unpark; {@link RoomWatchers} drops what they throw), and the tell is not lost then: the
 * owner never parks longer than {@link #RECHECK_NANOS} at a time, and when it has nothing ready
 * and that long has passed since it last looked, it takes as ready every entry of its own that
 * is marked ({@link #next}). So a told entry reaches its owner within that time whatever its
 * tell threw, and its owner's offer passes the room on to the fan-outs behind it
 * ({@link RoomWatchers}). A close marks every entry before it tells any
 * ({@link RoomWatchers#tellAll}): one still linked when the close was cut short is found so too.
 * TOLD or WAITING → IDLE: its owner offers again (told, its deadline came, or the thread was
 * interrupted); the offer unlinks it if it is still linked and clears the mark
 * ({@link BoundedQueue#unwatchRoom}), under the queue's lock. An entry taken from {@link #ready}
 * may be IDLE or WAITING again (offered meanwhile), or {@link Entry#done}: the owner skips it then.
 * Any state → IDLE for good: the fan-out is over, by a return or by anything thrown, and every
 * entry not done is dropped ({@link BoundedQueue#dropWatch}: unlinked, and a told one's room passed
 * on), as is one whose offer threw; so no entry outlives its call in a queue.
 * Its list fields and {@link Entry#told} change under the lock of its recipient's queue (the mark
 * is volatile: its owner reads it without); {@link Entry#done} and {@link Entry#deadline} belong
 * to the owner, which also sets the deadline under that lock.
 *
 * <p><b>Thread safety.</b> One watch belongs to the thread that made it; queues call
 * {@link Entry#ready()} from any thread, with their lock held (so it calls no user code).
 */
public final class RoomWatch {
    /**
     * Where tests make a wait fail before it parks, as a StackOverflowError in the park can (a
     * virtual thread's timed park schedules its wake-up deeper than the registration). Null but in
     * tests.
     */
    static volatile @Nullable Runnable beforePark;
    /**
     * Where tests make a tell fail once its entry is marked and unlinked, before it is handed over
     * and its owner unparked, as an OutOfMemoryError queueing it or a StackOverflowError in the
     * unpark can. Runs with the queue's lock held. Null but in tests.
     */
    static volatile @Nullable Runnable beforeReady;

    /**
     * The longest an owner parks before it looks for entries marked told that never reached its
     * {@link #ready} queue: how late a tell whose hand-over threw can come, and how often a fan-out
     * waiting without a limit wakes.
     */
    static final long RECHECK_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(250);

    private final Thread owner = Thread.currentThread();
    /** Entries whose queue made room since they were registered; may hold one twice, or one done. */
    private final ConcurrentLinkedQueue<Entry> ready = new ConcurrentLinkedQueue<>();
    /** Every entry made here, in the order made; owner only. */
    private final List<Entry> entries = new ArrayList<>();
    /** When the owner next looks for entries marked told ({@link System#nanoTime()}); owner only. */
    private long recheckAt = System.nanoTime() + RECHECK_NANOS;

    /** One recipient of the fan-out that would wait for room. */
    public static final class Entry {
        final RoomWatch watch;
        final Sender sender;
        /** When its wait ends, as its queue last said ({@link System#nanoTime()}; Long.MIN_VALUE: no limit). */
        long deadline;
        /** The queue's count of room events when it registered ({@link RoomWatchers}): its queue's lock. */
        long registeredAt;
        /** Offered for the last time: accepted or refused. */
        boolean done;
        /** The queue it registers in, set there the first time (one recipient, one queue); owner only. */
        @Nullable BoundedQueue queue;
        @Nullable Entry prev; // in its queue's list: guarded by that queue's lock
        @Nullable Entry next;
        boolean linked;
        /**
         * Told of room since its owner last offered: set by its queue, before anything of the tell
         * that can throw; cleared by its owner's next offer. Both under the queue's lock.
         */
        volatile boolean told;

        Entry(RoomWatch watch, Sender sender) {
            this.watch = watch;
            this.sender = sender;
        }

        /** Its queue made room (or closed): its owner offers again. Called with the queue's lock held, once marked and unlinked. */
        void ready() {
            Runnable fault = beforeReady;
            if (fault != null) {
                fault.run();
            }
            watch.ready.add(this);
            LockSupport.unpark(watch.owner);
        }
    }

    /** The thread that waits: the fan-out's. */
    Thread owner() {
        return owner;
    }

    /** A new entry for {@code sender}, not registered anywhere yet, kept with this watch's entries. Owner only. */
    Entry entry(Sender sender) {
        Entry e = new Entry(this, sender);
        entries.add(e);
        return e;
    }

    /** The entries made here, in the order made. Owner only. */
    List<Entry> entries() {
        return entries;
    }

    /**
     * The next entry whose queue made room, waiting for one at most until {@code deadlineNanos}
     * ({@link System#nanoTime()}; Long.MIN_VALUE: no limit). Owner only. Parks at most
     * {@link #RECHECK_NANOS} at a time: an entry marked told whose hand-over threw comes next once
     * that long has passed since the last look for such entries.
     *
     * @return null once the deadline has come, or the thread is interrupted, even with entries
     *     ready (the caller offers to every entry whose deadline has come, then asks again)
     */
    @Nullable Entry next(long deadlineNanos) {
        while (true) {
            // The deadline and the interrupt before the entries ready: under a stream of room
            // events the queue of ready entries may never be empty, and a limit must still end
            // the wait on time.
            if (owner.isInterrupted()) {
                return null;
            }
            long left = deadlineNanos == Long.MIN_VALUE ? Long.MAX_VALUE : deadlineNanos - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            Entry e = ready.poll();
            if (e != null) {
                return e;
            }
            long now = System.nanoTime();
            if (now - recheckAt >= 0) {
                recheckAt = now + RECHECK_NANOS;
                if (takeTold()) {
                    continue;
                }
            }
            Runnable fault = beforePark;
            if (fault != null) {
                fault.run();
            }
            LockSupport.parkNanos(this, Math.min(left, recheckAt - now));
        }
    }

    /**
     * Queues as ready every entry marked told and not done: those whose tell threw before it
     * handed them over, or those handed over meanwhile (then ready twice, which the owner
     * tolerates). Whether it found any.
     */
    private boolean takeTold() {
        boolean found = false;
        for (Entry e : entries) {
            if (e.told && !e.done) {
                ready.add(e);
                found = true;
            }
        }
        return found;
    }
}
