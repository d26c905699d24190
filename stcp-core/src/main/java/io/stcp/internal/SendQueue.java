package io.stcp.internal;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.Sender.IntKeyed;
import io.stcp.Sender.StringKeyed;
import io.stcp.SenderClosedException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * <p>{@link #writing} is the single write token that keeps messages in order across two writers:
 * the send loop takes it with each batch ({@link #drain}) and gives it back with
 * {@link #batchWritten()}; a producer may take it with {@link #tryClaimInline()} only when the queue
 * is empty, write its message itself, and give it back with {@link #releaseInline()}. Whoever holds
 * it is the only writer; everything put meanwhile queues behind it.
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
    private final Condition notEmpty = lock.newCondition();
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

    /** Thrown inside a put when policy CLOSE_CONNECTION fires; the caller closes. */
    public static final class SlowConsumer extends Exception {
        private static final long serialVersionUID = 1L;
        final int discarded;

        SlowConsumer(int discarded) {
            super(null, null, false, false);
            this.discarded = discarded;
        }

        public int discarded() {
            return discarded;
        }
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
     */
    public void put(byte[] message, boolean patient) throws SlowConsumer {
        lock.lock();
        try {
            checkOpen();
            Waits waits = null;
            while (!fits(1, message.length)) {
                makeRoom(1, message.length, waits = waits != null ? waits : new Waits(patient));
            }
            append(message, message.length);
        } finally {
            lock.unlock();
        }
    }

    /** A keyed put: conflated into a queued message with the same key when conflating, else a plain put. */
    public void put(Object key, byte[] message, boolean patient) throws SlowConsumer {
        if (!conflate) {
            put(message, patient);
            return;
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
                    return;
                }
                // then look at the key again: the queue has changed
                makeRoom(slots, add, waits = waits != null ? waits : new Waits(patient));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A put for a fan-out, one message to many queues ({@link RealConnectionRegistry}): as
     * {@link #put(byte[], boolean)} or, with a {@code key}, {@link #put(Object, byte[], boolean)},
     * but its waits for room are measured from {@code sinceNanos} (a {@link System#nanoTime()}
     * value: when the fan-out started) instead of from now, and with {@code mayWait} false it
     * does not wait at all.
     *
     * @param key the conflation key, or null for a plain message
     * @return true if the message was queued; false, with nothing queued, if {@code mayWait} is
     *     false and the put would have waited for room (BLOCK, or a patient put), so the caller can
     *     come back to it after serving the recipients that have room
     */
    public boolean offer(@Nullable Object key, byte[] message, boolean patient, long sinceNanos, boolean mayWait)
            throws SlowConsumer {
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
                    return true;
                }
                waits = waits != null ? waits : new Waits(patient, sinceNanos, mayWait);
                if (!makeRoom(slots, add, waits)) {
                    return false;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    public void putAllInt(List<IntKeyed> messages, boolean patient) throws SlowConsumer {
        Object[] keys = new Object[messages.size()];
        byte[][] values = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = messages.get(i).key();
            values[i] = Objects.requireNonNull(messages.get(i).bytes(), "bytes");
        }
        putAll(keys, values, patient);
    }

    public void putAllString(List<StringKeyed> messages, boolean patient) throws SlowConsumer {
        Object[] keys = new Object[messages.size()];
        byte[][] values = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = Objects.requireNonNull(messages.get(i).key(), "key");
            values[i] = Objects.requireNonNull(messages.get(i).bytes(), "bytes");
        }
        putAll(keys, values, patient);
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
    private void putAll(Object[] keys, byte[][] values, boolean patient) throws SlowConsumer {
        lock.lock();
        try {
            checkOpen();
            Map<Object, byte[]> last = new HashMap<>(); // the batch conflated against itself
            long lastBytes = 0;
            for (int i = 0; i < keys.length; i++) {
                byte[] previous = last.put(keys[i], values[i]);
                lastBytes += values[i].length - (previous == null ? 0 : previous.length);
            }
            if ((maxMessages != 0 && last.size() > maxMessages) || (maxBytes != 0 && lastBytes > maxBytes)) {
                rejected++;
                throw new QueueFullException("batch of " + last.size() + " keys and " + lastBytes
                        + " bytes exceeds the sender's limits (" + maxMessages + " messages, " + maxBytes + " bytes)");
            }
            Waits waits = null;
            while (true) {
                int newMessages = 0;
                long addBytes = 0;
                for (Map.Entry<Object, byte[]> e : last.entrySet()) {
                    Keyed existing = keyed == null ? null : keyed.get(e.getKey());
                    newMessages += existing == null ? 1 : 0;
                    addBytes += e.getValue().length - (existing == null ? 0L : existing.bytes.length);
                }
                if (fits(newMessages, addBytes)) {
                    break;
                }
                makeRoom(newMessages, Math.max(0, addBytes), waits = waits != null ? waits : new Waits(patient));
            }
            for (int i = 0; i < keys.length; i++) {
                putKeyedLocked(keys[i], values[i]);
            }
        } finally {
            lock.unlock();
        }
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

    private void append(Object entry, int length) {
        items.addLast(entry);
        bytes += length;
        if (items.size() == 1) {
            notEmpty.signal();
        }
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
    private boolean makeRoom(int messages, long add, Waits waits) throws SlowConsumer {
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
                throw new SlowConsumer(discarded);
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
    private int forget(Object entry) {
        if (entry instanceof Keyed k) {
            keyed.remove(k.key);
            return k.bytes.length;
        }
        return ((byte[]) entry).length;
    }

    /**
     * Moves up to {@code out.length} queued messages, and no more once {@code maxBytes} are taken
     * (at least one), into {@code out}, blocking while the queue is open and empty.
     *
     * @return how many were moved, or -1 once the queue is closed, or draining and empty
     */
    public int drain(byte[][] out, long maxBytes) throws InterruptedException {
        lock.lock();
        try {
            while (items.isEmpty() || writing) {
                if (state == CLOSED || (state == DRAINING && items.isEmpty() && !writing)) {
                    return -1;
                }
                notEmpty.await();
            }
            writing = true;
            int n = 0;
            long taken = 0;
            while (n < out.length && !items.isEmpty() && (n == 0 || taken < maxBytes)) {
                Object head = items.pollFirst();
                int length = forget(head);
                bytes -= length;
                taken += length;
                out[n++] = head instanceof Keyed k ? k.bytes : (byte[]) head;
            }
            if (roomWaiters > 0) {
                notFull.signalAll();
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Gives back the write token taken by {@link #drain}. */
    public void batchWritten() {
        lock.lock();
        try {
            writing = false;
        } finally {
            lock.unlock();
        }
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

    /** Gives back the token of {@link #tryClaimInline()} and wakes the send loop if messages queued meanwhile. */
    public void releaseInline() {
        lock.lock();
        try {
            writing = false;
            if (!items.isEmpty() || state != OPEN) {
                notEmpty.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Stops accepting puts; {@link #drain} returns what is left, then -1. */
    public void closeGracefully() {
        lock.lock();
        try {
            if (state == OPEN) {
                state = DRAINING;
                notEmpty.signalAll();
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
        notEmpty.signalAll();
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
