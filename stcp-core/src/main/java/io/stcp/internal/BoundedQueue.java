package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.SenderClosedException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The messages of a {@link SendQueue} and what bounds them: a FIFO of messages, keyed ones
 * conflated in place, limited by message count and/or bytes, and what a put does when one does
 * not fit — wait for room, drop the oldest, fail, or close — as its {@link OverflowPolicy} says.
 * {@link SendQueue}, the only subclass, adds the write token and the operations. The two are one
 * monitor in two files, so that a put or a drain works on one object, with no layer in between.
 *
 * <p><b>Entries</b> are a plain {@code byte[]}, a {@code byte[][]} of parts written back to back,
 * a {@link DirectMessage} (a large one, copied off the heap), a heap {@link ByteBuffer} over the
 * reader's own read buffer (a reply lent by {@link ConnectionInput#lendBuffered}, counted in
 * {@link #lentQueued}), or a {@link Keyed} holder. A direct
 * message that leaves the queue unwritten — dropped or discarded — is released here; one that is
 * drained belongs to the send thread. With conflation on, a keyed put whose key is still queued swaps the
 * bytes inside that holder, so the message keeps the position of the first arrival; the holder
 * leaves {@link #keyed} when it is drained or dropped. Integer and String keys never compare
 * equal, so the two key spaces stay apart. A keyed entry holds its key too, which a peer may have
 * chosen (a symbol, a user id): its {@link #keyBytes} count in {@link #bytes} with the message's,
 * from the put that queues the entry until it leaves (drained, dropped, discarded), so keys are
 * bounded by the byte limit and the outbound budget as messages are. A conflated value keeps the
 * holder's key, so a replacement changes only the message's share.
 *
 * <p><b>Waiting for room.</b> Under BLOCK every producer waits up to the block timeout. A put may
 * also bring its own <i>patience</i>: how long it waits for room before FAIL or CLOSE_CONNECTION
 * apply. The connection's reader uses it, so that a pipelining peer is slowed down (the reader
 * stops reading, the kernel's window closes) instead of disconnected. Waiters are woken when the
 * send loop takes a batch, and when a conflated value is replaced by a smaller one. A fan-out,
 * which may wait for room in many queues at once, does not wait here: it registers a
 * {@link RoomWatch.Entry} in each ({@link RoomWatchers}), and the same events hand them back to
 * the fan-outs' threads, one at a time while there is room, every one at a close. After any
 * wait or drop a put looks at the queue as it is then: the key it would conflate into may have
 * been written meanwhile, or replaced by a smaller value. A
 * connection's reader, before its first wait in a put — whichever connection's queue this is —
 * writes the replies it owes (a drain it holds the write token for: nobody else writes them, and
 * they may be the room it would otherwise wait for in vain, or what another reader waiting for its
 * room waits for) and parks its read buffer, with the lock released, then looks again
 * ({@link #readerGotReady}, {@link OwingReader}); in a fan-out it does so before it registers
 * anything ({@link Delivery}).
 *
 * <p><b>The server's outbound budget.</b> A queue of a server's connection also shares its
 * {@link OutboundBudget}: the bytes it holds beyond its {@link #slack} are {@link #charged} there,
 * taken before the put that raises them ({@link #takeRoom}) and given back by whatever lowers them
 * ({@link #settle}: a batch written, a drop, a smaller conflated value, a discard). Its slack is
 * {@link OutboundBudget#FREE_BYTES}, or {@link OutboundBudget#SLACK_BYTES} while it holds one of the
 * budget's slack permits. States of the slack ({@link #chargeFor}, {@link #settle}), with
 * {@code held} the bytes the queue holds:
 * <ul>
 *   <li>FREE: {@link #charged} is {@code max(0, held - FREE_BYTES)}.</li>
 *   <li>PERMIT: {@code FREE_BYTES < held <= SLACK_BYTES}, nothing charged.</li>
 * </ul>
 * FREE → PERMIT ({@link #takeRoom}): a put that raises the queue from no more than
 * {@code FREE_BYTES} to above that but not above {@code SLACK_BYTES}, if a permit is free (what the
 * queue held charged, if its oldest were dropped for the put, given back in the same step).
 * PERMIT → FREE: when the queue falls to {@code FREE_BYTES} or closes ({@link #settle}), or its
 * oldest are dropped to that for a put ({@link #dropForBudget}), the permit given back; and when a
 * put would raise it above {@code SLACK_BYTES} ({@link #takeRoom}): all its bytes above
 * {@code FREE_BYTES} are charged first — a put that must wait for that charge waits holding the
 * permit, so no byte is ever uncounted — then the permit is given back. A queue in FREE above
 * {@code FREE_BYTES} takes no permit until it falls to that (see {@link #permitFits}): a queue of
 * a peer that does not read holds none once past {@code SLACK_BYTES}, so that 102 such peers no
 * longer hold every permit until their write timeout while healthy queues are charged above
 * {@code FREE_BYTES} (one whose put to pass it waits for the budget still holds its permit
 * meanwhile). The bytes it holds are those queued and those of the batch its writer
 * took and has not written yet ({@link #drained}): the writer holds that batch until its write returns, up to the write
 * timeout when the peer does not read, so it stays charged meanwhile. States of a batch: queued →
 * drained ({@link SendQueue#drain}: counted in {@link #drained} instead of {@link #bytes}, the
 * charge unchanged) → written (the writer's next {@link SendQueue#drain} or
 * {@link SendQueue#releaseInline}, which it calls once its write returned: {@link #batchWritten})
 * or discarded (the queue's close, {@link #discardLocked}, whatever the writer still does); either
 * way given back. The whole batch at once: the writer holds all of it until its write returns.
 * A put that fits the queue but not the budget is treated as one that does not fit the queue
 * ({@link #makeRoom}), after the reader of a connection that owes its drain has paid it, wherever
 * it puts ({@link #owingReaderPaid}): it waits as long as it would wait there (BLOCK's timeout, a patient put's
 * patience), but for any queue of the server to free bytes, or a permit to be given back if one
 * would let it in ({@link #awaitBudget}); a fan-out
 * registers its entry here as for room, so it is told of this queue's room, and offers again at
 * least every {@link RoomWatch#RECHECK_NANOS} ({@link #budgetRecheck}). Then FAIL and BLOCK fail naming the budget; DROP_OLDEST first drops the fewest of this queue's
 * own oldest messages that make room, if any do, the room they free the put's ({@link #dropForBudget}); CLOSE_CONNECTION closes only a queue that holds
 * more than {@link OutboundBudget#SLACK_BYTES} (one of those filling the budget, which a slack
 * permit would not spare; not one charged only for want of a permit), and otherwise fails as FAIL.
 *
 * <p><b>States</b> ({@link #state}): OPEN (puts accepted) → DRAINING (puts rejected, the send loop
 * empties the queue) → CLOSED (empty, nothing accepted); or OPEN/DRAINING → CLOSED directly,
 * discarding the rest.
 *
 * <p>All fields are guarded by {@link #lock}, and every method here runs with it held (a wait for
 * room releases it meanwhile, as does a reader getting ready for one).
 */
abstract sealed class BoundedQueue permits SendQueue {
    static final int OPEN = 0;
    static final int DRAINING = 1;
    static final int CLOSED = 2;

    /** A keyed message in the queue: its key, and the latest bytes put under it. */
    private static final class Keyed {
        final Object key;
        byte[] bytes;

        Keyed(Object key, byte[] bytes) {
            this.key = key;
            this.bytes = bytes;
        }
    }

    final QueueLimits limits;
    /** The server's outbound budget, or null for none (a client's connection, a queue without one). */
    private final @Nullable OutboundBudget budget;
    /** Of {@link #bytes} and {@link #drained}, those charged to {@link #budget}: {@code max(0, bytes + drained - slack)} between steps. */
    long charged;
    /**
     * The bytes held that are not charged: {@link OutboundBudget#FREE_BYTES}, or
     * {@link OutboundBudget#SLACK_BYTES} while the queue holds one of its budget's slack permits.
     */
    private long slack = OutboundBudget.FREE_BYTES;
    /** The bytes of the batch the writer took ({@link SendQueue#drain}) and has not written yet; 0 once the queue is closed. */
    long drained;
    /** Puts of this queue waiting for the budget ({@link #awaitBudget}). */
    private int budgetWaiters;
    /** The budget's count of changes when a charge last failed here: a wait for the budget ends when it moves. */
    private long budgetSeen;
    /** Whether a slack permit would have let that put in: then a wait for the budget ends when one is free too. */
    private boolean budgetWantsPermit;
    private final @Nullable Connection patienceOf; // its write timeout is a patient put's patience; its reader pays what it owes before a wait

    final ReentrantLock lock = new ReentrantLock();
    // Made by the first wait for them (most queues never wait): guarded by lock.
    private Condition written; // the queue became empty with the token free, or closed
    private Condition notFull; // room was made
    // Made by the first message queued (a reader that writes its replies inline may never queue
    // one), then kept; grows as needed: most queues hold a message or none.
    private ArrayDeque<Object> items;
    private Map<Object, Keyed> keyed;   // lazily created
    long bytes;
    /** Lent replies queued: the reader that owes the drain writes them before reusing its buffer. */
    int lentQueued;
    int state = OPEN;
    /**
     * Told how many messages a discard took ({@link #discardLocked}), with the lock still held: so
     * whoever finds the queue closed after it finds them counted too (a second closer, say, that
     * goes on to end the connection and report its counts).
     */
    private IntConsumer discards = n -> { };
    private int roomWaiters;
    /** The fan-outs waiting for room here ({@link RoomWatch}); made by the first. */
    private @Nullable RoomWatchers watchers;
    long conflated;
    long dropped;
    long rejected;

    /** See {@link SendQueue#SendQueue}. */
    BoundedQueue(QueueLimits limits, @Nullable Connection patienceOf) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.patienceOf = patienceOf;
        this.budget = patienceOf instanceof RealConnection rc ? rc.context().outboundBudget() : null;
    }

    /** A patient put's patience: the connection's write timeout, without limit when it has none; 0 without a connection. */
    private long patienceNanos() {
        if (patienceOf == null) {
            return 0;
        }
        long t = Nanos.timeout(patienceOf.writeTimeout());
        return t == 0 ? Nanos.FOREVER : t;
    }

    /**
     * How long a put may still wait: absolute deadlines for BLOCK and for its patience (0 = none),
     * measured from the put's start, whether it may wait at all, and how: on this queue's condition,
     * or registered with a fan-out's {@link RoomWatch} ({@link SendQueue#offer}).
     */
    final class Waits {
        final long blockDeadline;
        final long patienceDeadline;
        final boolean mayWait;
        final RoomWatch.@Nullable Entry watch;
        /** A reader's put has got ready for its waits ({@link #readerGotReady}): once a put. */
        boolean readerReady;
        /**
         * Whether a queued key is one this put conflates into: dropping its value for the put
         * ({@link #dropForBudget}) grows the put by that entry's bytes, as it then appends the
         * value anew with its key. None for a plain put.
         */
        Predicate<Object> conflatesInto = key -> false;

        Waits(boolean patient) {
            this(patient, System.nanoTime(), true, null);
        }

        Waits(boolean patient, long now, boolean mayWait, RoomWatch.@Nullable Entry watch) {
            this.mayWait = mayWait;
            this.watch = watch;
            this.blockDeadline = limits.policy() == OverflowPolicy.BLOCK
                    ? waitDeadline(now, Math.max(1, limits.blockTimeoutNanos())) : 0;
            this.patienceDeadline = waitDeadline(now, patient ? patienceNanos() : 0);
        }

        /** The deadline of a wait of {@code nanos}: 0 for none, {@link Long#MIN_VALUE} for no limit ({@link Nanos#FOREVER} or more). */
        private static long waitDeadline(long now, long nanos) {
            return nanos <= 0 ? 0 : nanos >= Nanos.FOREVER ? Long.MIN_VALUE : Nanos.deadline(now, nanos);
        }

        /** Sets {@link #conflatesInto}: the keys of a keyed put, or of a batch's ({@link SendQueue#putAll}). */
        Waits conflatingInto(Predicate<Object> keys) {
            conflatesInto = keys;
            return this;
        }

        /** The deadline of a wait for the server's outbound budget: BLOCK's, else the put's patience. */
        long budgetDeadline() {
            return limits.policy() == OverflowPolicy.BLOCK ? blockDeadline : patienceDeadline;
        }

        /** The deadline of a wait for room now, 0 if this put must not wait, {@link Long#MIN_VALUE} for no limit. */
        long deadline() {
            OverflowPolicy policy = limits.policy();
            return policy == OverflowPolicy.BLOCK ? blockDeadline
                    : (policy == OverflowPolicy.FAIL || policy == OverflowPolicy.CLOSE_CONNECTION) ? patienceDeadline : 0;
        }
    }

    static long length(byte[][] parts) {
        long n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        return n;
    }

    /**
     * What a keyed entry's {@code key} counts in the bytes the queue holds, besides its message: a
     * String key two bytes a char, the most its chars take in memory (a peer may choose it, and
     * make it large); an int key nothing, its few bytes being, like a message's array header, fixed
     * per entry and so bounded by the message limit as the entries are. A field read, no allocation.
     */
    static long keyBytes(@Nullable Object key) {
        return key instanceof String s ? 2L * s.length() : 0;
    }

    /** The bytes queued under {@code key}, or null. */
    final byte[] queuedUnder(Object key) {
        Keyed k = keyed == null ? null : keyed.get(key);
        return k == null ? null : k.bytes;
    }

    /**
     * Conflates into the queued holder of {@code key}, whose key's bytes are counted already, or
     * appends a new one, counting them; the caller made room.
     */
    final void putKeyedLocked(Object key, byte[] message) {
        Keyed existing = keyed == null ? null : keyed.get(key);
        if (existing != null) {
            long shrink = existing.bytes.length - (long) message.length;
            bytes -= shrink;
            existing.bytes = message;
            conflated++;
            if (shrink > 0) {
                wakeRoomWaiters(); // a smaller value made room, as a drain does
            }
            return;
        }
        Keyed entry = new Keyed(key, message);
        if (keyed == null) {
            keyed = new HashMap<>();
        }
        keyed.put(key, entry);
        append(entry, message.length + keyBytes(key));
    }

    final void append(Object entry, long length) {
        if (items == null) {
            items = new ArrayDeque<>(1);
        }
        items.addLast(entry);
        bytes += length;
    }

    /** How many messages are queued. */
    final int queued() {
        return items == null ? 0 : items.size();
    }

    /** The oldest message queued, or null. */
    final Object oldest() {
        return items == null ? null : items.peekFirst();
    }

    /** Takes the oldest message queued, or null. */
    final Object takeOldest() {
        Object entry = items == null ? null : items.pollFirst();
        if (entry instanceof ByteBuffer) {
            lentQueued--;
        }
        return entry;
    }

    final void checkOpen() {
        if (state != OPEN) {
            throw new SenderClosedException(state == DRAINING ? "sender is closing" : "sender is closed");
        }
    }

    final boolean fits(int messages, long add) {
        int maxMessages = limits.maxMessages();
        long maxBytes = limits.maxBytes();
        return (maxMessages == 0 || queued() + messages <= maxMessages)
                && (maxBytes == 0 || bytes + add <= maxBytes);
    }

    /**
     * Whether {@code messages} more messages and {@code add} more bytes fit the queue and the
     * server's outbound budget; if they do, the queue's charge and slack permit are what it needs
     * once they are in ({@link #chargeFor}), and the caller puts them now, under the same lock. No
     * shared counter is touched while the queue stays within its slack.
     */
    final boolean takeRoom(int messages, long add) {
        if (!fits(messages, add)) {
            return false;
        }
        long held = bytes + drained;
        if (budget == null || held + add <= slack) {
            return true;
        }
        return chargeFor(held, held + add);
    }

    /**
     * Makes the queue's share of the budget what it needs once it holds {@code to} bytes, rising
     * from {@code from} (what it holds now, or, for DROP_OLDEST, once its oldest messages are
     * dropped: {@link #dropForBudget}), netted against what it holds charged, so that no other
     * queue can take the difference in between: the transitions of the slack in the class comment.
     * A queue holding a permit that would rise above {@link OutboundBudget#SLACK_BYTES} is charged
     * all its bytes above {@link OutboundBudget#FREE_BYTES} first, keeping its permit until that
     * charge is taken, then gives the permit back. A queue without one that rises from within its
     * free bytes to within a permit's slack takes one if one is free, giving back what it held
     * charged. Otherwise the queue is charged its bytes above its free bytes.
     *
     * @return false, with nothing changed, when the budget has not the room: {@link #budgetSeen}
     *     then says for what change a wait for it waits
     */
    private boolean chargeFor(long from, long to) {
        if (slack == OutboundBudget.SLACK_BYTES) {
            assert charged == 0 : "charged while holding a slack permit";
            if (to > OutboundBudget.SLACK_BYTES) {
                if (!charge(to - OutboundBudget.FREE_BYTES, false)) {
                    return false;
                }
                giveSlackPermitBack();
            } else if (to <= OutboundBudget.FREE_BYTES) { // its oldest dropped: no longer needed
                giveSlackPermitBack();
            }
            return true;
        }
        boolean permitFits = permitFits(from, to);
        if (permitFits && budget.tryTakeSlackPermit()) {
            slack = OutboundBudget.SLACK_BYTES;
            if (charged > 0) {
                budget.release(charged);
                charged = 0;
            }
            return true;
        }
        long over = Math.max(0, to - OutboundBudget.FREE_BYTES) - charged;
        if (over < 0) { // fewer bytes: a smaller batch of values, or oldest messages dropped
            budget.release(-over);
            charged += over;
        }
        return over <= 0 || charge(over, permitFits);
    }

    /**
     * Whether a slack permit would let the queue rise from {@code from} bytes to {@code to}: it
     * holds none, and rises from within its free bytes to within a permit's slack. Only from within
     * its free bytes: a queue that rose above a permit's slack, its peer not keeping up, or that
     * was charged for want of a permit, is charged until its peer has taken all but its free bytes,
     * rather than taking a permit again at each dip below the slack (a peer that reads slowly would
     * hold one most of the time, and cross the slack, charged and given back, at every batch).
     */
    private boolean permitFits(long from, long to) {
        return slack == OutboundBudget.FREE_BYTES && from <= OutboundBudget.FREE_BYTES
                && to > OutboundBudget.FREE_BYTES && to <= OutboundBudget.SLACK_BYTES;
    }

    /** Whether {@link #takeRoom} of this put would try to take a slack permit now. */
    private boolean wouldTakeSlackPermit(int messages, long add) {
        long held = bytes + drained;
        return state == OPEN && fits(messages, add) && permitFits(held, held + add);
    }

    /** Charges {@code more} (> 0) bytes, or notes the budget's count of changes when they do not fit. */
    private boolean charge(long more, boolean wantsPermit) {
        long seen = budget.tryCharge(more);
        if (seen != OutboundBudget.CHARGED) {
            budgetSeen = seen;
            budgetWantsPermit = wantsPermit;
            return false;
        }
        charged += more;
        return true;
    }

    private void giveSlackPermitBack() {
        slack = OutboundBudget.FREE_BYTES;
        budget.giveSlackPermit();
    }

    /**
     * After {@link #bytes} or {@link #drained} went down: gives the budget back what the queue no
     * longer holds above its slack, and its slack permit once it holds no more than
     * {@link OutboundBudget#FREE_BYTES}. Two field reads when it has neither.
     */
    final void settle() {
        if (charged == 0 && slack == OutboundBudget.FREE_BYTES) {
            return;
        }
        long held = bytes + drained;
        long over = Math.max(0, held - slack);
        if (over < charged) {
            long freed = charged - over;
            charged = over;
            budget.release(freed);
        }
        if (slack != OutboundBudget.FREE_BYTES && held <= OutboundBudget.FREE_BYTES) {
            giveSlackPermitBack();
        }
    }

    /** Test seam: the bytes this queue may hold uncharged now ({@link #slack}). */
    final long slackBytes() {
        lock.lock();
        try {
            return slack;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The writer's batch ({@link #drained}) is written: given back, and the puts of this queue
     * waiting for the budget woken, even when this queue's charge did not change (a batch within
     * the slack leaves it for their bytes). One compare when there was none.
     */
    final void batchWritten() {
        if (drained != 0) {
            drained = 0;
            settle();
            if (budgetWaiters > 0) {
                budget.wake();
            }
        }
    }

    /**
     * Refuses a message above the byte limit on its own, before any room is made for it: a keyed
     * one may need fewer bytes than that while a smaller value of its key is queued, but it could
     * never fit once that one is dropped or written.
     */
    final void checkNotTooLarge(long length) {
        checkNotTooLarge(length, 0);
    }

    /** {@link #checkNotTooLarge(long)} for a keyed message of {@code length} bytes whose key counts {@code keyBytes} more. */
    final void checkNotTooLarge(long length, long keyBytes) {
        long maxBytes = limits.maxBytes();
        if (maxBytes != 0 && length + keyBytes > maxBytes) {
            rejected++;
            throw keyBytes == 0 ? tooLarge(length) : new QueueFullException("message of " + length
                    + " bytes with a key counted as " + keyBytes + " exceeds the sender's byte limit of "
                    + maxBytes + " (QueueSender.options().maxBytes; a String key counts 2 bytes a char)");
        }
    }

    private QueueFullException tooLarge(long length) {
        return new QueueFullException("message of " + length + " bytes exceeds the sender's byte limit of "
                + limits.maxBytes() + " (QueueSender.options().maxBytes)");
    }

    /**
     * Called when {@code messages} more messages and {@code add} more bytes do not fit
     * ({@link #takeRoom}): waits for the send loop to take a batch, or for the server's outbound
     * budget to free bytes, once (within the put's deadline), or applies the policy. The caller
     * then looks again. Throws when the put must give up.
     *
     * @return false when the put would wait but may not: having done nothing when
     *     {@link Waits#mayWait} is false; with {@link Waits#watch} registered, to be told of room
     */
    final boolean makeRoom(int messages, long add, Waits waits) throws SlowConsumerException {
        settle(); // what the queue holds charged beyond its bytes, if a step before left any
        long maxBytes = limits.maxBytes();
        int maxMessages = limits.maxMessages();
        if ((maxBytes != 0 && add > maxBytes) || (maxMessages != 0 && messages > maxMessages)) {
            rejected++;
            throw tooLarge(add);
        }
        boolean overBudget = budget != null && fits(messages, add); // the queue has room, the budget has not
        if (overBudget) {
            if (add - OutboundBudget.FREE_BYTES > budget.limitBytes()) { // a put above SLACK_BYTES takes no permit
                rejected++;
                throw new QueueFullException("message of " + add + " bytes exceeds the server's outbound budget of "
                        + budget.limitBytes() + " bytes (ServerConfig.outboundBudget)");
            }
            if (waits.watch == null && owingReaderPaid()) {
                checkOpen();
                return true; // look again: that drain gave back what the reader's own queue held
            }
            if (limits.policy() == OverflowPolicy.DROP_OLDEST && dropForBudget(add, waits)) {
                return true; // this queue's own oldest, before any wait or failure
            }
        }
        long deadline = overBudget ? waits.budgetDeadline() : waits.deadline();
        if (deadline != 0) {
            long left = deadline == Long.MIN_VALUE ? Long.MAX_VALUE : deadline - System.nanoTime();
            if (left > 0) {
                if (!waits.mayWait) {
                    return false;
                }
                if (waits.watch != null) { // its reader got ready before it registered anything (Delivery)
                    if (Thread.currentThread().isInterrupted()) {
                        throw interrupted();
                    }
                    watchRoom(waits.watch, overBudget ? budgetRecheck(deadline) : deadline);
                    return false;
                }
                if (readerGotReady(waits)) {
                    checkOpen();
                    return true; // look again: the lock was released, and a drain paid may have made room
                }
                if (overBudget) {
                    awaitBudget(left, messages, add);
                } else {
                    awaitRoom(left);
                }
                checkOpen();
                return true;
            }
        }
        if (overBudget) {
            rejected++;
            String full = overBudget(add);
            if (limits.policy() == OverflowPolicy.CLOSE_CONNECTION && bytes + drained > OutboundBudget.SLACK_BYTES) {
                int discarded = discardLocked();
                state = CLOSED;
                throw new SlowConsumerException(discarded, full);
            }
            throw new QueueFullException(full);
        }
        switch (limits.policy()) {
            case FAIL, BLOCK -> {
                rejected++;
                throw full(messages);
            }
            case DROP_OLDEST -> {
                while (!fits(messages, add) && queued() > 0) {
                    dropOldest();
                }
            }
            case CLOSE_CONNECTION -> {
                rejected++;
                String full = fullness(messages); // before the discard empties the queue
                int discarded = discardLocked();
                state = CLOSED;
                throw new SlowConsumerException(discarded, full);
            }
        }
        return true;
    }

    /**
     * The deadline a fan-out waiting for the server's outbound budget registers with: its own, or
     * {@link RoomWatch#RECHECK_NANOS} from now if that is earlier. Another queue's freed bytes do
     * not tell the fan-outs registered here (that would take this queue's lock under another's), so
     * while the budget stays full a fan-out offers again that often, within its own deadline.
     */
    private static long budgetRecheck(long deadline) {
        long recheck = Nanos.deadline(System.nanoTime(), RoomWatch.RECHECK_NANOS);
        return deadline == Long.MIN_VALUE || recheck - deadline < 0 ? recheck : deadline;
    }

    /**
     * DROP_OLDEST, when the server's outbound budget refuses a put of {@code add} bytes: drops the
     * fewest of this queue's own oldest messages that let the put in, if any do, deciding and taking
     * the put's share of the budget in one step under this queue's lock ({@link #chargeFor}, from what
     * the queue holds once they are dropped): what the drops give back — charged bytes, or the slack
     * permit of a queue that falls to {@link OutboundBudget#FREE_BYTES} — is netted against what the
     * put takes, so no other queue can take it in between and leave the put to wait, or fail, with
     * its messages dropped for nothing. A byte dropped is one charged less, or, within the slack,
     * one the put need not charge; a batch being written ({@link #drained}) stays charged. The
     * budget's room is read without its lock to choose how many; when another queue takes it
     * meanwhile, nothing is dropped, and the put waits or fails as any put the budget refuses. The
     * value queued under a key the put conflates into ({@link Waits#conflatesInto}) frees nothing
     * for it when dropped: the put then appends its value anew, the key's bytes with it.
     *
     * <p>A drop within the slack gives the budget nothing back, so it wakes no put waiting for the
     * budget, and none needs it: another queue's put gains nothing, and one of this queue under
     * DROP_OLDEST waits only when drops could not make its room.
     *
     * @return whether it dropped: the put then fits
     */
    private boolean dropForBudget(long add, Waits waits) {
        if (queued() == 0) {
            return false;
        }
        long room = budget.limitBytes() - budget.chargedBytes();
        long from = bytes + drained;
        long to = from + add;
        int drops = 0;
        boolean enough = false;
        for (Object entry : items) {
            long length = entryBytes(entry);
            from -= length;
            if (!(entry instanceof Keyed k && waits.conflatesInto.test(k.key))) { // the put's own key: it appends it anew
                to -= length;
            }
            drops++;
            if (budgetNeed(from, to) <= room) {
                enough = true;
                break;
            }
        }
        if (!enough || !chargeFor(from, to)) {
            return false;
        }
        for (; drops > 0; drops--) {
            dropOldestUnsettled();
        }
        return true;
    }

    /**
     * What a queue rising from {@code from} bytes to {@code to} would take of the budget's room
     * ({@link #chargeFor}), netted against what it holds charged; a free permit read without a lock.
     */
    private long budgetNeed(long from, long to) {
        if (slack == OutboundBudget.SLACK_BYTES) {
            return to <= OutboundBudget.SLACK_BYTES ? 0 : to - OutboundBudget.FREE_BYTES;
        }
        if (permitFits(from, to) && budget.hasFreeSlackPermit()) {
            return -charged;
        }
        return Math.max(0, to - OutboundBudget.FREE_BYTES) - charged;
    }

    /** Drops the oldest message queued (there is one), giving back what it held. */
    private void dropOldest() {
        dropOldestUnsettled();
        settle();
    }

    /** Drops the oldest message queued (there is one); the caller settles what the budget counted of it. */
    private void dropOldestUnsettled() {
        Object head = takeOldest();
        bytes -= forget(head);
        release(head);
        dropped++;
    }

    /** Why a put of {@code add} more bytes does not fit the server's outbound budget. */
    private String overBudget(long add) {
        return "server's outbound budget full (" + budget.chargedBytes() + " of " + budget.limitBytes()
                + " bytes charged, ServerConfig.outboundBudget; this queue " + queued() + " messages, " + bytes
                + " bytes, " + drained + " being written, a put of " + add + " more)";
    }

    /**
     * Waits, at most {@code nanos}, for the server's outbound budget to change — any queue freed
     * bytes — or for this queue to make room or close ({@link #wakeRoomWaiters}, {@link #discardLocked});
     * the lock is released meanwhile, as a wait for room releases it. It waits for the count of
     * changes to move from the one seen by the charge that failed ({@link #budgetSeen}, in this
     * same hold of the lock), so a change after that look ends the wait (see {@link OutboundBudget}).
     * A put a slack permit would let in ({@link #budgetWantsPermit}) is woken also by a permit given
     * back, one put a permit: if, looking again in this same hold of the lock, it will not take one
     * ({@link #takeRoom} next), it passes the wake-up on to the next such put.
     */
    private void awaitBudget(long nanos, int messages, long add) {
        assert lock.getHoldCount() == 1;
        long noted = budgetSeen;
        boolean wantsPermit = budgetWantsPermit;
        boolean interrupted = false;
        budgetWaiters++;
        lock.unlock();
        try {
            budget.awaitChange(noted, wantsPermit, nanos);
        } catch (InterruptedException e) {
            interrupted = true;
        } finally {
            lock.lock();
            budgetWaiters--;
            if (wantsPermit && (interrupted || !wouldTakeSlackPermit(messages, add))) {
                budget.passSlackPermitOn(); // the wake-up of a permit given back may have been this put's
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            throw interrupted();
        }
    }

    /**
     * A put that does not fit the server's outbound budget, on the thread of a connection's reader
     * that owes its drain ({@link OwingReader}), has that drain paid first, whichever queue the put
     * is for: the replies the reader holds queued for its own peer may be what fills the budget,
     * and nobody else writes them, so a wait for the budget, or a failure, would be for bytes only
     * the caller can free. A fan-out's entry registered here is never told while its owner pays
     * ({@link RoomWatchers}): this is for the puts without one. The lock is released meanwhile.
     *
     * @return whether it paid
     */
    private boolean owingReaderPaid() {
        RealConnection owing = OwingReader.owing();
        if (owing == null) {
            return false;
        }
        lock.unlock();
        try {
            OwingReader.pay(owing);
        } finally {
            lock.lock();
        }
        return true;
    }

    /**
     * A put about to wait (for room, or for the budget) on the thread of a connection's reader —
     * this queue's or any other's — has that reader get ready first, once a put, with this lock
     * released ({@link OwingReader#readyToWait}): it pays the drain it owes, since nobody else
     * writes those replies (its own peer would wait for them behind this queue's room, and this
     * queue may be its own, waiting for exactly that drain, or another reader's waiting for this
     * one's room in turn), and parks its read buffer, a copy that must not hold up this queue's
     * other puts and its writer. Any thread may make room meanwhile, and its signal finds no
     * waiter: so the put then looks again, and waits only after a look under the same hold of the
     * lock as the wait (the next call, which finds {@link Waits#readerReady} set).
     *
     * @return whether the lock was released: the caller looks again
     */
    private boolean readerGotReady(Waits waits) {
        if (waits.readerReady) {
            return false;
        }
        waits.readerReady = true;
        RealConnection reader = OwingReader.reader();
        if (reader == null) {
            return false;
        }
        lock.unlock();
        try {
            OwingReader.readyToWait(reader);
        } finally {
            lock.lock();
        }
        return true;
    }

    private void awaitRoom(long nanos) {
        if (notFull == null) {
            notFull = lock.newCondition();
        }
        roomWaiters++;
        try {
            notFull.awaitNanos(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw interrupted();
        } finally {
            roomWaiters--;
        }
    }

    /** The refusal of a put whose thread was interrupted while it would wait for room; counted. */
    private QueueFullException interrupted() {
        rejected++;
        return new QueueFullException("interrupted while waiting for room");
    }

    /** Registers {@code e} to be told of room made here (WAITING, see {@link RoomWatch}), its wait ending at {@code deadline}. */
    private void watchRoom(RoomWatch.Entry e, long deadline) {
        if (watchers == null) {
            watchers = new RoomWatchers();
        }
        e.queue = this;
        watchers.add(e, deadline);
    }

    /**
     * Its owner gives {@code e} up, whatever state it is in (see {@link RoomWatch}): unregistered
     * if it still is, and, if it was told and will not offer, the room passed on as its offer
     * would have. Owner only, as its fan-out ends.
     */
    final void dropWatch(RoomWatch.Entry e) {
        lock.lock();
        try {
            unwatchRoom(e);
            passRoomOn();
        } finally {
            lock.unlock();
        }
    }

    /** Unregisters {@code e} if it is registered here, and clears its mark of a tell: its owner offers again, told or not. */
    final void unwatchRoom(RoomWatch.Entry e) {
        if (watchers != null) {
            watchers.remove(e);
        }
        e.told = false;
    }

    /** After a fan-out's offer with its entry: while there is room for a message, the next fan-out waiting here is told (see {@link RoomWatchers}). */
    final void passRoomOn() {
        if (watchers != null && !watchers.isEmpty() && state == OPEN && fits(1, 0)) {
            watchers.passOn();
        }
    }

    /** Test seam: the threads of the fan-outs registered here, one per entry. */
    final java.util.List<Thread> roomWatchersLocked() {
        return watchers == null ? java.util.List.of() : watchers.owners();
    }

    /** The condition {@link #signalWritten()} signals; with the lock held. */
    final Condition written() {
        if (written == null) {
            written = lock.newCondition();
        }
        return written;
    }

    /** Wakes whoever waits for the queue to be written, if anyone; with the lock held. */
    final void signalWritten() {
        if (written != null) {
            written.signalAll();
        }
    }

    /** Wakes the puts waiting for room, and the fan-outs watching for it, if any: a batch was taken, or the queue is closing. */
    final void wakeRoomWaiters() {
        if (roomWaiters > 0) {
            notFull.signalAll();
        }
        if (budgetWaiters > 0) {
            budget.wake();
        }
        if (watchers != null && !watchers.isEmpty()) {
            if (state == OPEN) {
                watchers.roomMade();
            } else {
                watchers.tellAll();
            }
        }
    }

    /** The refusal of a put of {@code messages} more messages. */
    private QueueFullException full(int messages) {
        return new QueueFullException(fullness(messages));
    }

    /**
     * Why a put of {@code messages} more messages finds the queue full, naming the limit it would
     * pass: with the default byte limit (4 MiB) a queue of large messages fills far below its
     * capacity, and a count alone would not say why.
     */
    private String fullness(int messages) {
        int maxMessages = limits.maxMessages();
        String limit = maxMessages != 0 && queued() + messages > maxMessages
                ? "capacity " + maxMessages + ", QueueSender.options().capacity"
                : "maxBytes " + limits.maxBytes() + ", QueueSender.options().maxBytes";
        return "send queue full (" + queued() + " messages, " + bytes + " bytes; " + limit + ")";
    }

    /** Removes {@code entry}'s key mapping; returns the bytes it held, a keyed one's key included. */
    final long forget(Object entry) {
        if (entry instanceof Keyed k) {
            keyed.remove(k.key);
        }
        return entryBytes(entry);
    }

    /** The bytes a queued {@code entry} holds, a keyed one's key included. */
    private static long entryBytes(Object entry) {
        return entry instanceof Keyed k ? k.bytes.length + keyBytes(k.key) : length(entry);
    }

    /** The bytes of a queued message: a {@code byte[]}, a {@code byte[][]} of parts, a {@link DirectMessage} or a lent {@link ByteBuffer}. */
    static long length(Object message) {
        return message instanceof byte[] b ? b.length
                : message instanceof DirectMessage d ? d.length()
                : message instanceof ByteBuffer lent ? lent.remaining() : length((byte[][]) message);
    }

    /**
     * The bytes to write of a queued {@code entry}: a {@code byte[]}, a {@code byte[][]} of parts,
     * a {@link DirectMessage} or a lent {@link ByteBuffer}.
     */
    static Object message(Object entry) {
        return entry instanceof Keyed k ? k.bytes : entry;
    }

    /** The buffers a queued message is written from: 1, its parts, or its chunks. */
    static int arrays(Object entry) {
        return entry instanceof byte[][] parts ? parts.length
                : entry instanceof DirectMessage d ? d.chunkCount() : 1;
    }

    /** Gives a direct message's chunks back to its pool; anything else is left to the collector. */
    static void release(Object message) {
        if (message instanceof DirectMessage d) {
            d.release();
        }
    }

    /** Where the counts of {@link #discardLocked} go; set once, before the queue is used. */
    final void countDiscardsIn(IntConsumer counter) {
        discards = Objects.requireNonNull(counter, "counter");
    }

    /** Empties the queue, waking every waiter, and counts what it held ({@link #countDiscardsIn}); returns that. */
    final int discardLocked() {
        int n = queued();
        if (n > 0) {
            discards.accept(n);
        }
        for (Object entry; (entry = takeOldest()) != null; ) {
            release(entry);
        }
        if (keyed != null) {
            keyed.clear();
        }
        bytes = 0;
        drained = 0; // the writer's batch is lost with the connection
        settle();
        signalWritten();
        if (notFull != null) {
            notFull.signalAll();
        }
        if (budgetWaiters > 0) {
            budget.wake();
        }
        if (watchers != null) {
            watchers.tellAll();
        }
        return n;
    }
}
