package io.stcp.internal;

import io.stcp.Sender;
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
 * WAITING → IDLE + ready: the queue makes room (or closes) and unlinks the entry, handed to its
 * watch's {@link #ready} queue, its owner unparked ({@link Entry#ready()}).
 * WAITING → IDLE: its owner offers again anyway (its deadline came, or the thread was interrupted);
 * the offer unlinks it first ({@link BoundedQueue#unwatchRoom}). An entry taken from {@link #ready}
 * may be IDLE or WAITING again (offered meanwhile), or {@link Entry#done}: the owner skips it then.
 * Any state → IDLE for good: the fan-out is over, by a return or by anything thrown, and every
 * entry not done is dropped ({@link BoundedQueue#dropWatch}: unlinked, and a told one's room passed
 * on), as is one whose offer threw; so no entry outlives its call in a queue.
 * Its list fields are guarded by the lock of its recipient's queue; {@link Entry#done} and
 * {@link Entry#deadline} belong to the owner, which also sets the deadline under that lock.
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

    private final Thread owner = Thread.currentThread();
    /** Entries whose queue made room since they were registered; may hold one twice, or one done. */
    private final ConcurrentLinkedQueue<Entry> ready = new ConcurrentLinkedQueue<>();

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

        Entry(RoomWatch watch, Sender sender) {
            this.watch = watch;
            this.sender = sender;
        }

        /** Its queue made room (or closed): its owner offers again. Called with the queue's lock held, once unlinked. */
        void ready() {
            watch.ready.add(this);
            LockSupport.unpark(watch.owner);
        }
    }

    /** The thread that waits: the fan-out's. */
    Thread owner() {
        return owner;
    }

    /** An entry for {@code sender}, not registered anywhere yet. Owner only. */
    Entry entry(Sender sender) {
        return new Entry(this, sender);
    }

    /**
     * The next entry whose queue made room, waiting for one at most until {@code deadlineNanos}
     * ({@link System#nanoTime()}; Long.MIN_VALUE: no limit). Owner only.
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
            Runnable fault = beforePark;
            if (fault != null) {
                fault.run();
            }
            if (deadlineNanos == Long.MIN_VALUE) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, left);
            }
        }
    }
}
