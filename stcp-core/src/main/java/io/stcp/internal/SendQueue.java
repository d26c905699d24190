package io.stcp.internal;

import io.stcp.Connection;
import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The queue behind {@link io.stcp.QueueSender}: FIFO of messages, optionally conflating keyed
 * messages, bounded by message count and/or bytes, with an {@link OverflowPolicy}. The messages,
 * their limits, the states (OPEN → DRAINING → CLOSED) and what a put does when it does not fit
 * (waiting for room, the policy) are {@link BoundedQueue}'s; this class adds who writes them, and
 * the operations.
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
 * <p>All fields, here and in {@link BoundedQueue}, are guarded by {@link #lock}; user code is never
 * called while holding it.
 */
public final class SendQueue extends BoundedQueue {
    /** The write token is held. Changed under {@link #lock}; volatile for {@link #writeUnderWay()}. */
    private volatile boolean writing;
    /** Made by the first message packed, so that a queue that packs none costs nothing. */
    private volatile @Nullable PackedChunks packed;

    /**
     * @param limits the queue's bounds and policy, shared with the other queues of its sender factory
     * @param patienceOf the connection whose write timeout is how long a patient put waits for room
     *     before FAIL or CLOSE_CONNECTION apply (without limit when it has none), asked only when a
     *     patient put finds the queue full; null: puts are never patient
     */
    public SendQueue(QueueLimits limits, @Nullable Connection patienceOf) {
        super(limits, patienceOf);
    }

    /**
     * Appends {@code message}; a large one is held in the direct pool's chunks when it has room
     * (see {@link DirectChunks}), and the caller's array is not kept.
     *
     * @param patient whether to wait for room (the queue's patience) before FAIL or CLOSE_CONNECTION apply
     * @return true if the caller must start a drainer: it holds the write token for it now
     */
    public boolean put(byte[] message, boolean patient) throws SlowConsumerException {
        DirectMessage d = queueable(message.length) ? DirectMessage.copyOf(limits.direct(), message, 0, message.length) : null;
        return d != null ? appendDirect(d, patient) : append(message, message.length, patient);
    }

    /**
     * Appends a copy of {@code bytes[off .. off+len)}: into the direct pool's chunks when it is
     * large and they have room, else into a new array. See {@link #put(byte[], boolean)}.
     */
    public boolean putCopy(byte[] bytes, int off, int len, boolean patient) throws SlowConsumerException {
        DirectMessage d = queueable(len) ? DirectMessage.copyOf(limits.direct(), bytes, off, len) : null;
        return d != null ? appendDirect(d, patient) : append(Arrays.copyOfRange(bytes, off, off + len), len, patient);
    }

    /** Appends one message made of {@code parts}, written back to back; see {@link #put(byte[], boolean)}. */
    public boolean putParts(byte[][] parts, boolean patient) throws SlowConsumerException {
        long length = length(parts);
        DirectMessage d = queueable(length) ? DirectMessage.copyOf(limits.direct(), parts, length) : null;
        return d != null ? appendDirect(d, patient) : append(parts, length, patient);
    }

    /**
     * {@code header} and the next {@code n} bytes of {@code from}'s input as one message packed off
     * the heap ({@link PackedChunks}), or null when it is not: when its length is not one worth
     * packing, not all {@code n} bytes are buffered already, or the pool has no room. Nothing is
     * read then. The caller writes or queues the message ({@link #putPacked}). Reader thread of
     * {@code from} only.
     */
    public @Nullable DirectMessage packBuffered(byte[] header, RealConnection from, int n) {
        long length = (long) header.length + n;
        if (from.buffered() < n) {
            return null;
        }
        DirectMessage d = takePacked(length);
        if (d != null) {
            d.fillBuffer().put(header);
            from.takeBuffered(d.fillBuffer(), n);
            d.filled();
        }
        return d;
    }

    /**
     * {@code header} and the next {@code n} bytes of {@code from}, more than it has buffered, read
     * into chunks of the direct pool straight from the socket ({@link RealConnection#readDirect});
     * or null, with nothing read, when the message is not one this queue takes or the bytes cannot
     * be read that way. Queued with {@link #putPacked}, or written and released.
     */
    public @Nullable DirectMessage packRead(byte[] header, RealConnection from, int n) throws IOException {
        return queueable(header.length + (long) n) ? from.readDirect(limits.direct(), header, n) : null;
    }

    /** A copy of the remaining bytes of {@code reply} (a heap buffer) packed off the heap, as {@link #packBuffered}; or null. */
    public @Nullable DirectMessage pack(ByteBuffer reply) {
        DirectMessage d = takePacked(reply.remaining());
        if (d != null) {
            d.fillBuffer().put(reply.array(), reply.arrayOffset() + reply.position(), reply.remaining());
            d.filled();
        }
        return d;
    }

    /** An empty packed message of {@code length} bytes to fill, or null when the length is not one worth packing or the pool has no room. */
    private @Nullable DirectMessage takePacked(long length) {
        if (!PackedChunks.worthPacking(length) || !queueable(length)) {
            return null;
        }
        PackedChunks p = packed;
        if (p == null) {
            lock.lock();
            try {
                if ((p = packed) == null) {
                    packed = p = new PackedChunks(limits.direct());
                }
            } finally {
                lock.unlock();
            }
        }
        return p.take((int) length);
    }

    /** Appends a message from {@link #packBuffered}; released when the put fails. See {@link #put(byte[], boolean)}. */
    public boolean putPacked(DirectMessage message, boolean patient) throws SlowConsumerException {
        return appendDirect(message, patient);
    }

    /** Whether a reply of {@code length} bytes is worth lending from the read buffer rather than copying: as {@link PackedChunks#worthPacking}. */
    public static boolean worthLending(long length) {
        return PackedChunks.worthPacking(length);
    }

    /** {@link #putLent}: the token is someone else's, or the reply does not fit, and nothing was queued. */
    public static final int NOT_LENT = -2;

    /**
     * Appends a reply lent from the reader's read buffer ({@link ConnectionInput#lendBuffered}),
     * which only that reader may write: while the write token is the caller's already (it owes the
     * drain) or free (taken now, for a drain the caller must owe), and the reply fits without making
     * room; otherwise nothing is queued, and the caller copies the reply and puts it as any other.
     *
     * @param tokenHeld the caller owes the drain, so the token is held for it
     * @return {@link #QUEUED}, {@link #QUEUED_START_DRAINER} (the token was taken for the caller),
     *     or {@link #NOT_LENT}
     */
    public int putLent(ByteBuffer reply, boolean tokenHeld) {
        long length = reply.remaining();
        lock.lock();
        try {
            checkOpen();
            if (writing && !tokenHeld) {
                return NOT_LENT; // a drainer or an inline writer could write it after the buffer changed
            }
            if (!takeRoom(1, length)) {
                return NOT_LENT; // making room could pay the drain the caller owes, and the token go elsewhere
            }
            append(reply, length);
            lentQueued++;
            return takeTokenForDrainer() ? QUEUED_START_DRAINER : QUEUED;
        } finally {
            lock.unlock();
        }
    }

    /** Whether lent replies are queued ({@link #putLent}). */
    public boolean holdsLent() {
        lock.lock();
        try {
            return lentQueued > 0;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether a message of {@code length} bytes may be queued at all (not above the byte limit), so
     * that it is worth offering to the direct pool, which takes only the large ones.
     */
    private boolean queueable(long length) {
        return limits.maxBytes() == 0 || length <= limits.maxBytes();
    }

    /** Appends a direct message, or releases it when the put fails. */
    private boolean appendDirect(DirectMessage d, boolean patient) throws SlowConsumerException {
        boolean appended = false;
        try {
            boolean startDrainer = append(d, d.length(), patient);
            appended = true;
            return startDrainer;
        } finally {
            if (!appended) {
                d.release();
            }
        }
    }

    private boolean append(Object message, long length, boolean patient) throws SlowConsumerException {
        lock.lock();
        try {
            checkOpen();
            Waits waits = null;
            while (!takeRoom(1, length)) {
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

    /**
     * A keyed put: conflated into a queued message with the same key when conflating, else a plain
     * put. A new key's bytes count with the message's ({@link #keyBytes}).
     */
    public boolean put(Object key, byte[] message, boolean patient) throws SlowConsumerException {
        if (!limits.conflate()) {
            return put(message, patient);
        }
        long keyBytes = keyBytes(key);
        lock.lock();
        try {
            checkOpen();
            checkNotTooLarge(message.length, keyBytes);
            Waits waits = null;
            while (true) {
                byte[] existing = queuedUnder(key);
                int slots = existing == null ? 1 : 0;
                long add = existing == null ? message.length + keyBytes : message.length - (long) existing.length;
                if (add <= 0 && slots == 0 || takeRoom(slots, add)) {
                    putKeyedLocked(key, message);
                    settle(); // a smaller value freed bytes
                    return takeTokenForDrainer();
                }
                // then look at the key again: the queue has changed
                makeRoom(slots, add, waits = waits != null ? waits : new Waits(patient).conflatingInto(key::equals));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Appends {@code message} only if nothing is queued and nobody holds the write token (no
     * drainer, no inline write, no stalled write), deciding and appending in one step: a
     * heartbeat's ping ({@link io.stcp.Heartbeat}), which must never take a queued message's place
     * nor queue behind a write under way. The message is kept as it is, never copied.
     *
     * @return true if it was queued: the caller then holds the write token and must start a
     *     drainer; false if the queue was busy and nothing was queued
     * @throws io.stcp.SenderClosedException if the queue is not open
     * @throws QueueFullException if the message alone exceeds the byte limit
     */
    public boolean putIfIdle(byte[] message) {
        lock.lock();
        try {
            checkOpen();
            if (writing || queued() > 0) {
                return false;
            }
            checkNotTooLarge(message.length); // into an empty queue, the only way not to fit
            if (!takeRoom(1, message.length)) {
                return false; // the server's outbound budget is full: busy enough
            }
            append(message, message.length);
            return takeTokenForDrainer();
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
     * value: when the fan-out started) instead of from now, and it never waits on this queue's
     * thread-blocking condition: without a {@code watch} it does not wait at all; with one, where
     * it would wait it registers the watch's entry to be told of the next room made here (see
     * {@link RoomWatch}), and the fan-out's thread offers again when told, or when the wait's
     * deadline (then in {@link RoomWatch.Entry#deadline}) has come. Whatever such an offer does,
     * it then tells the next fan-out waiting here if there is room ({@link RoomWatchers}).
     *
     * @param key the conflation key, or null for a plain message
     * @param watch null for the first offer, which serves the recipients with room; else the
     *     recipient's entry, unregistered first if it still is
     * @return {@link #QUEUED}, {@link #QUEUED_START_DRAINER}, or {@link #WOULD_WAIT} (nothing
     *     queued) if the put would have waited for room (BLOCK, or a patient put): without a
     *     {@code watch}, so the caller can come back to it after serving the recipients with
     *     room; with one, registered
     */
    public int offer(@Nullable Object key, byte[] message, boolean patient, long sinceNanos,
            RoomWatch.@Nullable Entry watch) throws SlowConsumerException {
        lock.lock();
        try {
            if (watch == null) {
                return offerLocked(key, message, patient, sinceNanos, null);
            }
            unwatchRoom(watch);
            try {
                return offerLocked(key, message, patient, sinceNanos, watch);
            } finally {
                passRoomOn(); // whatever this offer did, the next fan-out waiting here may now have room
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@link #offer}, with the lock held. */
    private int offerLocked(@Nullable Object key, byte[] message, boolean patient, long sinceNanos,
            RoomWatch.@Nullable Entry watch) throws SlowConsumerException {
        boolean keyedPut = key != null && limits.conflate();
        long keyBytes = keyedPut ? keyBytes(key) : 0; // a key shared by a fan-out's recipients counts in each queue
        checkOpen();
        checkNotTooLarge(message.length, keyBytes);
        Waits waits = null;
        while (true) {
            byte[] existing = keyedPut ? queuedUnder(key) : null;
            int slots = existing == null ? 1 : 0;
            long add = existing == null ? message.length + keyBytes : message.length - (long) existing.length;
            if (add <= 0 && slots == 0 || takeRoom(slots, add)) {
                if (keyedPut) {
                    putKeyedLocked(key, message);
                    settle(); // a smaller value freed bytes
                } else {
                    append(message, message.length);
                }
                return takeTokenForDrainer() ? QUEUED_START_DRAINER : QUEUED;
            }
            if (waits == null) {
                waits = new Waits(patient, sinceNanos, watch != null, watch);
                if (keyedPut) {
                    waits.conflatingInto(key::equals);
                }
            }
            if (!makeRoom(slots, add, waits)) {
                return WOULD_WAIT;
            }
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
            int maxMessages = limits.maxMessages();
            long maxBytes = limits.maxBytes();
            if ((maxMessages != 0 && batch.size() > maxMessages) || (maxBytes != 0 && batch.lastBytes > maxBytes)) {
                rejected++;
                throw new QueueFullException("batch of " + batch.size() + " keys and " + batch.lastBytes
                        + " bytes (keys included) exceeds the sender's limits (" + maxMessages + " messages, " + maxBytes + " bytes)");
            }
            Waits waits = null;
            long[] need;
            while (!takeRoom((int) (need = batch.need(this::queuedUnder))[0], need[1])) {
                makeRoom((int) need[0], Math.max(0, need[1]),
                        waits = waits != null ? waits : new Waits(patient).conflatingInto(batch.last::containsKey));
            }
            for (int i = 0; i < batch.keys.length; i++) {
                putKeyedLocked(batch.keys[i], batch.values[i]);
            }
            settle(); // after the whole batch, which was charged its net growth
            return batch.keys.length > 0 && takeTokenForDrainer();
        } finally {
            lock.unlock();
        }
    }

    /**
     * For the drainer, which holds the write token: moves queued messages into {@code out} — each
     * a {@code byte[]}, a {@code byte[][]} of parts, or a {@link DirectMessage} the drainer must
     * release once written or lost — at least one, and no more than fit in
     * {@code out}, than {@code maxArrays} arrays in all, or than {@code maxBytes} bytes. When
     * nothing is queued (or the queue is closed) it gives the token back instead, in the same step,
     * and the drainer ends: a put after that starts a new one.
     *
     * <p>The batch moved out stays charged to the server's outbound budget ({@link #drained}) until
     * the drainer's next call here or to {@link #releaseInline}, which it makes once the batch is
     * written, or until the queue's close: the call gives back the batch before (see {@link BoundedQueue}).
     *
     * @return how many were moved; 0 when the token was given back
     */
    public int drain(Object[] out, long maxBytes, int maxArrays) {
        lock.lock();
        try {
            if (queued() == 0 || state == CLOSED) {
                batchWritten();
                releaseTokenLocked();
                return 0;
            }
            int n = 0;
            long taken = 0;
            int arrays = 0;
            while (n < out.length && queued() > 0
                    && (n == 0 || (taken < maxBytes && arrays + arrays(oldest()) <= maxArrays))) {
                Object head = takeOldest();
                long length = forget(head);
                bytes -= length;
                taken += length;
                arrays += arrays(head);
                out[n++] = message(head);
            }
            drained = taken; // the batch before is written
            settle();
            wakeRoomWaiters();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Test seam: the threads of the fan-outs waiting for room here, one per recipient entry ({@link RoomWatch}). */
    public java.util.List<Thread> roomWatchers() {
        return locked(this::roomWatchersLocked);
    }

    /** Messages queued now. */
    public int queuedCount() {
        lock.lock();
        try {
            return queued();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether a message of {@code length} bytes would fit now without waiting or dropping, with
     * fewer than {@code batchBytes} bytes queued: a put whose caller owes the drain checks it first.
     */
    public boolean roomWithinBatch(long length, long batchBytes) {
        lock.lock();
        try {
            return bytes < batchBytes && fits(1, length);
        } finally {
            lock.unlock();
        }
    }

    private void releaseTokenLocked() {
        writing = false;
        signalWritten();
    }

    /**
     * Whether someone holds the write token, read without the lock: a hint that may be stale by
     * the time the caller acts on it. True means {@link #tryClaimInline()} would fail now, so a
     * put can skip asking whether more input waits (a system call) before it queues.
     */
    public boolean writeUnderWay() {
        return writing;
    }

    /**
     * Takes the write token for a message the caller will write itself, if the queue is open and
     * empty and nobody is writing. On success the caller must call {@link #releaseInline()}.
     */
    public boolean tryClaimInline() {
        lock.lock();
        try {
            if (state != OPEN || writing || queued() > 0) {
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
     * inline write: then the caller keeps it for a drainer it must start. A batch the caller
     * drained ({@link #drain}, a reader paying what it owes) is written by now: given back.
     *
     * @return true if the caller must start a drainer
     */
    public boolean releaseInline() {
        lock.lock();
        try {
            batchWritten();
            if (queued() > 0 && state != CLOSED) {
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
     * Waits until everything queued has been written or discarded and the token is free — so a
     * writer that holds it has counted what it was writing, even after the queue closed — at most
     * until {@code deadlineNanos} (0 = none).
     *
     * @return false if the deadline came first
     */
    public boolean awaitWritten(long deadlineNanos) throws InterruptedException {
        lock.lock();
        try {
            while (writing || queued() > 0) {
                if (deadlineNanos == 0) {
                    written().await();
                } else {
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    written().awaitNanos(left);
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
                wakeRoomWaiters();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Closes now; returns how many messages were discarded (0 if already closed). */
    public int close() {
        lock.lock();
        try {
            return closeLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * For the holder of the write token whose write failed, after it counted what it was writing:
     * closes the queue and gives the token back.
     *
     * @return how many queued messages were discarded (0 if already closed)
     */
    public int abandon() {
        lock.lock();
        try {
            int discarded = closeLocked();
            releaseTokenLocked();
            return discarded;
        } finally {
            lock.unlock();
        }
    }

    private int closeLocked() {
        if (state == CLOSED) {
            return 0;
        }
        state = CLOSED;
        return discardLocked();
    }

    public boolean conflating() {
        return limits.conflate();
    }

    /** The byte limit; 0 = none. */
    public long maxBytes() {
        return limits.maxBytes();
    }

    public boolean isOpen() {
        return locked(() -> state == OPEN);
    }

    public Stats stats() {
        return locked(() -> new Stats(queued(), bytes, conflated, dropped, rejected));
    }

    /** A snapshot of the queue's counters. */
    public record Stats(int pendingMessages, long pendingBytes, long conflated, long dropped, long rejected) {}

    private <T> T locked(Supplier<T> s) {
        lock.lock();
        try {
            return s.get();
        } finally {
            lock.unlock();
        }
    }
}
