package io.stcp.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server-wide budget for replies queued but not yet written ({@code ServerConfig.outboundBudget}):
 * the bytes of all of a server's send queues ({@link SendQueue}), queued or in the batch their
 * writers took and have not written yet, counted as each queue counts them — heap arrays, parts,
 * lent read buffers and the direct pool's chunks of large messages alike, and a conflating queue's
 * String keys ({@link BoundedQueue#keyBytes}) — beyond each queue's <i>slack</i>, which is free:
 * its first {@link #FREE_BYTES}, or its first {@link #SLACK_BYTES} while it holds one of the
 * server's <i>slack permits</i>, of which there are {@link #slackPermits()}, so many that their
 * slack together is at most half the limit. So the bytes queued or being written in all of them
 * stay at most one and a half times the limit plus the number of queues times {@link #FREE_BYTES}
 * (they were the limit plus the number of queues times 80 KiB, and 2,000 peers that never read
 * kept 160 MB of replies uncharged).
 *
 * <p><b>Off the path of small messages.</b> A queue within {@link #FREE_BYTES} touches nothing
 * shared, so loads that keep a few small replies in flight (64-byte echoes sixteen deep) never
 * come here. A queue rising from it to no more than {@link #SLACK_BYTES} takes a permit, one
 * atomic step on {@link #freePermits} and no lock ({@link #tryTakeSlackPermit}), and gives it
 * back, one more, when it falls to it again ({@link #giveSlackPermit}): so four 16 KiB replies
 * in flight cost two atomic steps per batch, while permits last. A queue that would rise above
 * {@link #SLACK_BYTES} gives its permit back then, charged all its bytes above {@link #FREE_BYTES}
 * (so only queues between the two hold permits: the transient, healthy ones, and those whose put
 * waits for that charge, keeping the permit so that their bytes stay counted — with the budget
 * spent, some queues of peers that do not read, not every one), and takes none again until it
 * falls to {@link #FREE_BYTES}. A queue without
 * a permit is charged exactly its bytes above its slack ({@link BoundedQueue#charged}),
 * taken here before the put that raises it and given back by whatever lowers it (a batch written,
 * a drop, a smaller conflated value, a discard at the queue's close, the writer's batch with it),
 * under that queue's lock: one uncontended lock here per such step.
 *
 * <p><b>States and transitions</b>, under {@link #lock} unless said:
 * <ul>
 *   <li>{@code charged}, in [0, limit]: {@link #tryCharge} adds bytes only if the sum stays within
 *       the limit; {@link #release} takes back bytes a charge added, each byte once, by the queue
 *       that took it (its {@code charged} goes down by as much in the same step, under its lock).</li>
 *   <li>{@link #freePermits}, atomic, no lock, in [0, {@link #slackPermits()}]: a queue takes one
 *       (decrement if above 0, {@link #tryTakeSlackPermit}) under its own lock when a put raises
 *       it from no more than {@link #FREE_BYTES} to above that but not above {@link #SLACK_BYTES}
 *       (releasing what it held charged, if its oldest were dropped for the put), and gives it back
 *       (increment, {@link #giveSlackPermit}) under its lock when it falls to {@link #FREE_BYTES},
 *       closes, or would rise above {@link #SLACK_BYTES} (once the charge of all its bytes above
 *       {@link #FREE_BYTES} is taken; until then it keeps it); each queue holds at most one, and
 *       none above {@link #SLACK_BYTES}.</li>
 *   <li>{@code changes}, which only grows: by one at each {@link #release} and {@link #wake}. A
 *       failed {@link #tryCharge} returns the count it saw. A permit given back does not move it.</li>
 *   <li>{@code waiters}: the puts inside {@link #awaitChange}, each from its entry to its return;
 *       {@code permitWaiters} (volatile, written under the lock), those of them a permit would let
 *       in, waiting on {@link #permitFreed} instead of {@link #changed}.</li>
 * </ul>
 *
 * <p><b>Waiting.</b> A put that fits its queue but not the budget (no permit to be had, and no
 * room to charge) waits as on a full queue ({@link BoundedQueue#makeRoom}): it keeps the count of
 * changes its failed {@link #tryCharge} saw, under its queue's lock, releases that lock and waits
 * here until the count moves ({@link #awaitChange}), or its deadline comes. The count moves at every
 * release (any queue freed charged bytes), at every event of the waiting put's own queue that a wait
 * for room there would also see (a batch taken, a smaller value, a close: {@link #wake}, by that
 * queue under its lock); any such event after the failed look moves the count past what the put
 * kept, so no wake-up is lost. A put that a permit would let in (one rising from within its free
 * bytes to within a permit's slack) also returns when a permit is free. A permit given back wakes
 * one of those, no other put (a permit lets in one queue; it woke every waiting put, 200 of them
 * looking again at each of 20,000 permits given back): the giver increments {@link #freePermits}
 * and then reads {@code permitWaiters}, and signals one if any; the waiter increments
 * {@code permitWaiters} and then reads {@link #freePermits} (both volatile), so one of them sees
 * the other — the giver signals, or the waiter returns at once to look again. So a permit's return
 * takes no lock unless such a put waits. The put woken looks again under its queue's lock; if it
 * will not take the permit (its queue no longer needs one, its put ended), it passes the wake-up
 * on ({@link #passSlackPermitOn}), so no permit is left free while a put waits for one; if another
 * queue took it first, that queue was let in. A close of the connection or the server's shutdown
 * (which close its queue) ends the wait. The order of locks is always a queue's, then this one's; nothing here calls a
 * queue. A fan-out waiting for room ({@link RoomWatch}) is not told of changes here, only of its
 * own queue's room: it offers again at least every {@link RoomWatch#RECHECK_NANOS} while it waits
 * for the budget.
 */
public final class OutboundBudget {
    /**
     * The bytes of each send queue that are never charged: 4 KiB, so that 64-byte echoes sixteen
     * deep, with their headers, stay below it and touch nothing shared.
     */
    public static final long FREE_BYTES = 4 << 10;

    /**
     * The bytes of a send queue that holds a slack permit that are not charged: 80 KiB, so that
     * four replies of 16 KiB with their headers, and one more arriving, stay below it.
     */
    public static final long SLACK_BYTES = 80 << 10;

    private final long limitBytes;
    private final int slackPermits;
    /** The slack permits no queue holds (see the class comment). */
    private final AtomicInteger freePermits;
    private final ReentrantLock lock = new ReentrantLock();
    /** The puts waiting for bytes only: every change wakes them all. */
    private final Condition changed = lock.newCondition();
    /** The puts a slack permit would let in: every change wakes them all, a permit given back one. */
    private final Condition permitFreed = lock.newCondition();
    private volatile long charged;      // written under lock; read without it by chargedBytes()
    private long peak;                  // guarded by lock
    private long changes;               // guarded by lock
    private int waiters;                // guarded by lock
    private volatile int permitWaiters; // written under lock; read without it by giveSlackPermit()
    private long wakeUps;               // guarded by lock; test seam

    public OutboundBudget(long limitBytes) {
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("limitBytes: " + limitBytes + " (expected: > 0)");
        }
        this.limitBytes = limitBytes;
        this.slackPermits = (int) Math.min(Integer.MAX_VALUE, limitBytes / (2 * SLACK_BYTES));
        this.freePermits = new AtomicInteger(slackPermits);
    }

    public long limitBytes() {
        return limitBytes;
    }

    /** How many queues may hold {@link #SLACK_BYTES} uncharged at once: so many that their slack is at most half the limit. */
    public int slackPermits() {
        return slackPermits;
    }

    /** Test seam: the slack permits queues hold now. */
    public int slackPermitsHeld() {
        return slackPermits - freePermits.get();
    }

    /**
     * Takes a slack permit if one is free; the caller's queue lock is held, and the queue holds
     * none. One atomic step, no lock.
     */
    boolean tryTakeSlackPermit() {
        for (int n; (n = freePermits.get()) > 0; ) {
            if (freePermits.compareAndSet(n, n - 1)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a slack permit is free now; a look without a lock, which a queue's put may find stale. */
    boolean hasFreeSlackPermit() {
        return freePermits.get() > 0;
    }

    /**
     * Gives back the slack permit the caller's queue held (its lock is held), and wakes one of the
     * puts waiting here that a permit would let in, if any: one permit lets in one put.
     */
    void giveSlackPermit() {
        freePermits.incrementAndGet();
        if (permitWaiters > 0) {
            signalPermitWaiter();
        }
    }

    /**
     * A put that waited for a slack permit, and will not take one now that it looks again (its queue
     * no longer needs one, its put ended), wakes the next such put if a permit is free: the wake-up
     * of a permit given back may have been its own.
     */
    void passSlackPermitOn() {
        if (permitWaiters > 0 && freePermits.get() > 0) {
            signalPermitWaiter();
        }
    }

    private void signalPermitWaiter() {
        lock.lock();
        try {
            permitFreed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Bytes charged now. */
    public long chargedBytes() {
        return charged;
    }

    /** The most bytes charged at once since the budget was made. */
    public long peakBytes() {
        lock.lock();
        try {
            return peak;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #tryCharge}: the bytes were charged. */
    static final long CHARGED = -1;

    /**
     * Takes {@code bytes} (> 0) if they fit; the caller's queue lock is held.
     *
     * @return {@link #CHARGED}, or, when they do not fit, the count of changes seen then: what a
     *     wait for room ({@link #awaitChange}) waits to see move, so that a release after this look
     *     ends it
     */
    long tryCharge(long bytes) {
        lock.lock();
        try {
            if (charged + bytes > limitBytes) {
                return changes;
            }
            charged += bytes;
            peak = Math.max(peak, charged);
            return CHARGED;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back {@code bytes} (> 0) that a queue's {@link #tryCharge} took, and wakes the waiting puts. */
    void release(long bytes) {
        lock.lock();
        try {
            charged -= bytes;
            assert charged >= 0 : "released more than was charged";
            changeLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes the waiting puts: the queue of one of them changed (a batch taken, a close). */
    void wake() {
        lock.lock();
        try {
            changeLocked();
        } finally {
            lock.unlock();
        }
    }

    private void changeLocked() {
        changes++;
        if (waiters > 0) {
            changed.signalAll();
            if (permitWaiters > 0) {
                permitFreed.signalAll();
            }
        }
    }

    /**
     * Waits until the count of changes is no longer {@code noted}, or, if a slack permit would let
     * the waiting put in ({@code wantsPermit}), until one is free, which may be at once (a permit
     * given back after the put's look, see the class comment: it looks again); at most {@code nanos}.
     *
     * @throws InterruptedException if the thread is interrupted
     */
    void awaitChange(long noted, boolean wantsPermit, long nanos) throws InterruptedException {
        lock.lock();
        try {
            waiters++;
            if (wantsPermit) {
                permitWaiters++; // then the look at freePermits: the Dekker pair with giveSlackPermit
            }
            try {
                Condition woken = wantsPermit ? permitFreed : changed;
                long left = nanos;
                while (changes == noted && !(wantsPermit && freePermits.get() > 0) && left > 0) {
                    left = woken.awaitNanos(left);
                    wakeUps++;
                }
            } finally {
                waiters--;
                if (wantsPermit) {
                    permitWaiters--;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Test seam: how many times a put waiting here has woken, for whatever reason, since the budget was made. */
    public long wakeUps() {
        lock.lock();
        try {
            return wakeUps;
        } finally {
            lock.unlock();
        }
    }

    /** Test seam: the puts waiting here now. */
    public int waiters() {
        lock.lock();
        try {
            return waiters;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "OutboundBudget[" + charged + " of " + limitBytes + " bytes charged, " + slackPermitsHeld() + " of "
                + slackPermits + " slack permits held]";
    }
}
