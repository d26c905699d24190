package io.stcp.internal;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.SenderClosedException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The queue behind {@link io.stcp.QueueSender}: FIFO of messages, optionally conflating keyed
 * messages, bounded by message count and/or bytes, with an {@link OverflowPolicy}.
 *
 * <p>Entries are either a plain {@code byte[]} or a {@link Keyed} holder. With conflation on, a
 * keyed put whose key is still queued swaps the bytes inside that holder, so the message keeps the
 * position of the first arrival; the holder leaves {@link #keyed} when it is drained or dropped.
 * Integer and String keys never compare equal, so the two key spaces stay apart.
 *
 * <p>States: OPEN (puts accepted) → DRAINING (puts rejected, the send loop empties the queue) →
 * CLOSED (empty, nothing accepted); or OPEN/DRAINING → CLOSED directly, discarding the rest.
 *
 * <p>{@link #writing} is the single write token that keeps messages in order: whoever holds it is
 * the only writer, and everything put meanwhile queues behind it. It is held either by a
 * <i>drainer</i> — a thread the sender starts on demand, which takes batch after batch
 * ({@link #drain}) until it finds the queue empty and gives the token back in that same step — or
 * by a producer writing its own message inline ({@link #tryClaimInline()} when the queue is empty,
 * {@link #releaseInline()} after). The invariant: <i>while messages are queued, someone holds the
 * token</i>. So a put that finds the token free takes it for a new drainer ({@link #put} returns
 * true: the caller starts one), and an inline writer that finds messages queued behind it keeps
 * the token for a drainer too. No thread waits for messages: an idle connection has none.
 *
 * <p><b>Waiting for room.</b> Under BLOCK every producer waits up to the block timeout. A put may
 * also bring its own <i>patience</i>: how long it waits for room before FAIL or CLOSE_CONNECTION
 * apply. The connection's reader uses it, so that a pipelining peer is slowed down (the reader
 * stops reading, the kernel's window closes) instead of disconnected. Waiters are woken when the
 * send loop takes a batch. After any wait or drop a put looks at the queue as it is then: the key
 * it would conflate into may have been written meanwhile, or replaced by a smaller value.
 *
 * <p>All fields are guarded by {@link #lock}; user code is never called while holding it.
 */
public final class SendQueue {
    private static final int OPEN = 0;
    private static final int DRAINING = 1;
    private static final int CLOSED = 2;

    private static final class Keyed {
        final Object key;
        byte[] bytes;

        Keyed(Object key, byte[] bytes) {
            this.key = key;
            this.bytes = bytes;
        }
    }

    private final int maxMessages;      // 0 = no limit
    private final long maxBytes;        // 0 = no limit
    private final OverflowPolicy policy;
    private final long blockTimeoutNanos;
    private final boolean conflate;
    private final LongSupplier patienceNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition written = lock.newCondition(); // the queue became empty with the token free, or closed
    private final Condition notFull = lock.newCondition();
    private final ArrayDeque<Object> items = new ArrayDeque<>();
    private Map<Object, Keyed> keyed;   // lazily created
    private long bytes;
    private int state = OPEN;
    private boolean writing;
    private int roomWaiters;
    private long conflated;
    private long dropped;
    private long rejected;

    /**
     * @param patienceNanos how long a patient put waits for room before FAIL or CLOSE_CONNECTION
     *     apply (0 = not at all, {@link Nanos#FOREVER} = without limit); asked only when a patient
     *     put finds the queue full
     */
    public SendQueue(int maxMessages, long maxBytes, OverflowPolicy policy, long blockTimeoutNanos, boolean conflate,
                     LongSupplier patienceNanos) {
        this.maxMessages = maxMessages;
        this.maxBytes = maxBytes;
        this.policy = policy;
        this.blockTimeoutNanos = blockTimeoutNanos;
        this.conflate = conflate;
        this.patienceNanos = patienceNanos;
    }

    /**
     * How long a put may still wait: absolute deadlines for BLOCK and for its patience (0 = none),
     * measured from the put's start, and whether it may wait at all ({@link #offer}).
     */
    private final class Waits {
        final long blockDeadline;
        final long patienceDeadline;
        final boolean mayWait;

        Waits(boolean patient) {
            this(patient, System.nanoTime(), true);
        }

        Waits(boolean patient, long now, boolean mayWait) {
            this.mayWait = mayWait;
            this.blockDeadline = policy == OverflowPolicy.BLOCK ? Nanos.deadline(now, Math.max(1, blockTimeoutNanos)) : 0;
            long patience = patient ? patienceNanos.getAsLong() : 0;
            this.patienceDeadline = patience <= 0 ? 0 : patience >= Nanos.FOREVER ? Long.MIN_VALUE : Nanos.deadline(now, patience);
        }

        /** The deadline of a wait for room now, 0 if this put must not wait, {@link Long#MIN_VALUE} for no limit. */
        long deadline() {
            return policy == OverflowPolicy.BLOCK ? blockDeadline
                    : (policy == OverflowPolicy.FAIL || policy == OverflowPolicy.CLOSE_CONNECTION) ? patienceDeadline : 0;
        }
    }

    /**
     * Appends {@code message}.
     *
     * @param patient whether to wait for room (the queue's patience) before FAIL or CLOSE_CONNECTION apply
     * @return true if the caller must start a drainer: it holds the write token for it now
     */
    public boolean put(byte[] message, boolean patient) throws SlowConsumerException {
        return append(message, message.length, patient);
    }

    /** Appends one message made of {@code parts}, written back to back; see {@link #put(byte[], boolean)}. */
    public boolean putParts(byte[][] parts, boolean patient) throws SlowConsumerException {
        return append(parts, length(parts), patient);
    }

    private boolean append(Object message, long length, boolean patient) throws SlowConsumerException {
        lock.lock();
        try {
            checkOpen();
            Waits waits = null;
            while (!fits(1, length)) {
                makeRoom(1, length, waits = waits != null ? waits : new Waits(patient));
            }
            append(message, length);
            return takeTokenForDrainer();
        } finally {
            lock.unlock();
        }
    }

    /** After a put: if nobody holds the write token, take it for a drainer the caller starts. Lock held. */
    private boolean takeTokenForDrainer() {
        if (writing) {
            return false;
        }
        writing = true;
        return true;
    }

    private static long length(byte[][] parts) {
        long n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        return n;
    }

    /** A keyed put: conflated into a queued message with the same key when conflating, else a plain put. */
    public boolean put(Object key, byte[] message, boolean patient) throws SlowConsumerException {
        if (!conflate) {
            return put(message, patient);
        }
        lock.lock();
        try {
            checkOpen();
            Waits waits = null;
            while (true) {
                Keyed existing = keyed == null ? null : keyed.get(key);
                int slots = existing == null ? 1 : 0;
                long add = message.length - (existing == null ? 0L : existing.bytes.length);
                if (add <= 0 && slots == 0 || fits(slots, add)) {
                    putKeyedLocked(key, message);
                    return takeTokenForDrainer();
                }
                // then look at the key again: the queue has changed
                makeRoom(slots, add, waits = waits != null ? waits : new Waits(patient));
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@link #offer}: the message would have waited for room, and nothing was queued. */
    public static final int WOULD_WAIT = -1;
    /** {@link #offer}: queued. */
    public static final int QUEUED = 0;
    /** {@link #offer}: queued, and the caller holds the write token for a drainer it must start. */
    public static final int QUEUED_START_DRAINER = 1;

    /**
     * A put for a fan-out, one message to many queues ({@link RealConnectionRegistry}): as
     * {@link #put(byte[], boolean)} or, with a {@code key}, {@link #put(Object, byte[], boolean)},
     * but its waits for room are measured from {@code sinceNanos} (a {@link System#nanoTime()}
     * value: when the fan-out started) instead of from now, and with {@code mayWait} false it
     * does not wait at all.
     *
     * @param key the conflation key, or null for a plain message
     * @return {@link #QUEUED}, {@link #QUEUED_START_DRAINER}, or {@link #WOULD_WAIT} (nothing
     *     queued) if {@code mayWait} is false and the put would have waited for room (BLOCK, or a
     *     patient put), so the caller can come back to it after serving the recipients with room
     */
    public int offer(@Nullable Object key, byte[] message, boolean patient, long sinceNanos, boolean mayWait)
            throws SlowConsumerException {
        boolean keyedPut = key != null && conflate;
        lock.lock();
        try {
            checkOpen();
            Waits waits = null;
            while (true) {
                Keyed existing = keyedPut && keyed != null ? keyed.get(key) : null;
                int slots = existing == null ? 1 : 0;
                long add = message.length - (existing == null ? 0L : existing.bytes.length);
                if (add <= 0 && slots == 0 || fits(slots, add)) {
                    if (keyedPut) {
                        putKeyedLocked(key, message);
                    } else {
                        append(message, message.length);
                    }
                    return takeTokenForDrainer() ? QUEUED_START_DRAINER : QUEUED;
                }
                waits = waits != null ? waits : new Waits(patient, sinceNanos, mayWait);
                if (!makeRoom(slots, add, waits)) {
                    return WOULD_WAIT;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Puts every pair or none: room is made for the whole batch first.
     *
     * <p>What the batch needs depends on the queue: a key still queued is conflated in place and
     * needs no slot, a key not queued needs one. Making room changes that — DROP_OLDEST may drop,
     * and the send loop may drain while a put waits, a message the batch would have conflated
     * into — so the need is counted again after every change until the batch fits as the queue
     * is now. Dropping or draining a batch key frees a slot and costs one, so only the other
     * messages make room: a batch whose distinct keys (or last values' bytes) exceed the limits
     * on their own can never fit and is rejected before anything is dropped.
     */
    public boolean putAll(KeyedBatch batch, boolean patient) throws SlowConsumerException {
        lock.lock();
        try {
            checkOpen();
            if ((maxMessages != 0 && batch.size() > maxMessages) || (maxBytes != 0 && batch.lastBytes > maxBytes)) {
                rejected++;
                throw new QueueFullException("batch of " + batch.size() + " keys and " + batch.lastBytes
                        + " bytes exceeds the sender's limits (" + maxMessages + " messages, " + maxBytes + " bytes)");
            }
            Waits waits = null;
            long[] need;
            while (!fits((int) (need = batch.need(this::queuedUnder))[0], need[1])) {
                makeRoom((int) need[0], Math.max(0, need[1]), waits = waits != null ? waits : new Waits(patient));
            }
            for (int i = 0; i < batch.keys.length; i++) {
                putKeyedLocked(batch.keys[i], batch.values[i]);
            }
            return batch.keys.length > 0 && takeTokenForDrainer();
        } finally {
            lock.unlock();
        }
    }

    /** The bytes queued under {@code key}, or null; lock held. */
    private byte[] queuedUnder(Object key) {
        Keyed k = keyed == null ? null : keyed.get(key);
        return k == null ? null : k.bytes;
    }

    /** Conflates into the queued holder of {@code key}, or appends a new one; the caller made room. */
    private void putKeyedLocked(Object key, byte[] message) {
        Keyed existing = keyed == null ? null : keyed.get(key);
        if (existing != null) {
            bytes += (long) message.length - existing.bytes.length;
            existing.bytes = message;
            conflated++;
            return;
        }
        Keyed entry = new Keyed(key, message);
        if (keyed == null) {
            keyed = new HashMap<>();
        }
        keyed.put(key, entry);
        append(entry, message.length);
    }

    private void append(Object entry, long length) {
        items.addLast(entry);
        bytes += length;
    }

    private void checkOpen() {
        if (state != OPEN) {
            throw new SenderClosedException(state == DRAINING ? "sender is closing" : "sender is closed");
        }
    }

    private boolean fits(int messages, long add) {
        return (maxMessages == 0 || items.size() + messages <= maxMessages)
                && (maxBytes == 0 || bytes + add <= maxBytes);
    }

    /**
     * Called when {@code messages} more messages and {@code add} more bytes do not fit: waits for
     * the send loop to take a batch, once (within the put's deadline), or applies the policy. The
     * caller then looks again. Throws when the put must give up.
     *
     * @return false, having done nothing, when the put would wait but {@link Waits#mayWait} is false
     */
    private boolean makeRoom(int messages, long add, Waits waits) throws SlowConsumerException {
        if ((maxBytes != 0 && add > maxBytes) || (maxMessages != 0 && messages > maxMessages)) {
            rejected++;
            throw new QueueFullException("message of " + add + " bytes exceeds the sender's byte limit of " + maxBytes
                    + " (QueueSender.options().maxBytes)");
        }
        long deadline = waits.deadline();
        if (deadline != 0) {
            long left = deadline == Long.MIN_VALUE ? Long.MAX_VALUE : deadline - System.nanoTime();
            if (left > 0) {
                if (!waits.mayWait) {
                    return false;
                }
                awaitRoom(left);
                checkOpen();
                return true;
            }
        }
        switch (policy) {
            case FAIL, BLOCK -> {
                rejected++;
                throw full();
            }
            case DROP_OLDEST -> {
                while (!fits(messages, add) && !items.isEmpty()) {
                    Object head = items.pollFirst();
                    bytes -= forget(head);
                    dropped++;
                }
            }
            case CLOSE_CONNECTION -> {
                rejected++;
                int discarded = discardLocked();
                state = CLOSED;
                throw new SlowConsumerException(discarded);
            }
        }
        return true;
    }

    private void awaitRoom(long nanos) {
        roomWaiters++;
        try {
            notFull.awaitNanos(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            rejected++;
            throw new QueueFullException("interrupted while waiting for room");
        } finally {
            roomWaiters--;
        }
    }

    private QueueFullException full() {
        return new QueueFullException("send queue full (" + items.size() + " messages, " + bytes + " bytes)");
    }

    /** Removes {@code entry}'s key mapping; returns its length. */
    private long forget(Object entry) {
        if (entry instanceof Keyed k) {
            keyed.remove(k.key);
            return k.bytes.length;
        }
        return entry instanceof byte[] b ? b.length : length((byte[][]) entry);
    }

    /** The arrays a queued message is written from: 1, or its parts. */
    private static int arrays(Object entry) {
        return entry instanceof byte[][] parts ? parts.length : 1;
    }

    /**
     * For the drainer, which holds the write token: moves queued messages into {@code out} — each
     * a {@code byte[]}, or a {@code byte[][]} of parts — at least one, and no more than fit in
     * {@code out}, than {@code maxArrays} arrays in all, or than {@code maxBytes} bytes. When
     * nothing is queued (or the queue is closed) it gives the token back instead, in the same step,
     * and the drainer ends: a put after that starts a new one.
     *
     * @return how many were moved; 0 when the token was given back
     */
    public int drain(Object[] out, long maxBytes, int maxArrays) {
        lock.lock();
        try {
            if (items.isEmpty() || state == CLOSED) {
                releaseTokenLocked();
                return 0;
            }
            int n = 0;
            long taken = 0;
            int arrays = 0;
            while (n < out.length && !items.isEmpty()
                    && (n == 0 || (taken < maxBytes && arrays + arrays(items.peekFirst()) <= maxArrays))) {
                Object head = items.pollFirst();
                long length = forget(head);
                bytes -= length;
                taken += length;
                arrays += arrays(head);
                out[n++] = head instanceof Keyed k ? k.bytes : head;
            }
            if (roomWaiters > 0) {
                notFull.signalAll();
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    private void releaseTokenLocked() {
        writing = false;
        written.signalAll();
    }

    /**
     * Takes the write token for a message the caller will write itself, if the queue is open and
     * empty and nobody is writing. On success the caller must call {@link #releaseInline()}.
     */
    public boolean tryClaimInline() {
        lock.lock();
        try {
            if (state != OPEN || writing || !items.isEmpty()) {
                return false;
            }
            writing = true;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives back the token of {@link #tryClaimInline()} — unless messages were queued behind the
     * inline write: then the caller keeps it for a drainer it must start.
     *
     * @return true if the caller must start a drainer
     */
    public boolean releaseInline() {
        lock.lock();
        try {
            if (!items.isEmpty() && state != CLOSED) {
                return true;
            }
            releaseTokenLocked();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes the write token and keeps it, so that what is put stays queued (for tests that look
     * at a queue before it is written); {@link #releaseInline()} gives it back.
     *
     * @throws IllegalStateException if someone is writing
     */
    public void holdToken() {
        lock.lock();
        try {
            if (writing) {
                throw new IllegalStateException("a write is in progress");
            }
            writing = true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until everything queued has been written — the queue empty and the token free — or the
     * queue is closed, at most until {@code deadlineNanos} (0 = none).
     *
     * @return false if the deadline came first
     */
    public boolean awaitWritten(long deadlineNanos) throws InterruptedException {
        lock.lock();
        try {
            while ((writing || !items.isEmpty()) && state != CLOSED) {
                if (deadlineNanos == 0) {
                    written.await();
                } else {
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    written.awaitNanos(left);
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Stops accepting puts; what is queued is still written. */
    public void closeGracefully() {
        lock.lock();
        try {
            if (state == OPEN) {
                state = DRAINING;
                notFull.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Closes now; returns how many messages were discarded (0 if already closed). */
    public int close() {
        lock.lock();
        try {
            if (state == CLOSED) {
                return 0;
            }
            state = CLOSED;
            return discardLocked();
        } finally {
            lock.unlock();
        }
    }

    private int discardLocked() {
        int n = items.size();
        items.clear();
        if (keyed != null) {
            keyed.clear();
        }
        bytes = 0;
        written.signalAll();
        notFull.signalAll();
        return n;
    }

    public boolean conflating() {
        return conflate;
    }

    public boolean isOpen() {
        return locked(() -> state == OPEN);
    }

    public Stats stats() {
        return locked(() -> new Stats(items.size(), bytes, conflated, dropped, rejected));
    }

    /** A snapshot of the queue's counters. */
    public record Stats(int pendingMessages, long pendingBytes, long conflated, long dropped, long rejected) {}

    private <T> T locked(java.util.function.Supplier<T> s) {
        lock.lock();
        try {
            return s.get();
        } finally {
            lock.unlock();
        }
    }
}
