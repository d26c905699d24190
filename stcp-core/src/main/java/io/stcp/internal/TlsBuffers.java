package io.stcp.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Small lock-free pools of the TLS layer's heap buffers, in two sizes: {@link #RECORD} bytes, one
 * TLS record (the JDK's packet buffer size is 16,709, its application buffer size 16,704), and
 * {@link #BULK} bytes, four records, for the encrypted bytes of a write and, on a readiness
 * transport, of a read, so that one system call moves several records. A TLS connection takes
 * them while it has encrypted or decrypted bytes in hand or a write in progress, and gives them
 * back when it has none, so that an idle connection on a readiness transport holds none. Bounded:
 * at most {@value #SLOTS} of each size are kept; more are left to the garbage collector.
 *
 * <p>A take or a give looks at up to {@value #PROBES} slots, in an order of its own ({@link #slot}).
 * When buffers come and go at the same rate, a pool settles where takes that find none (and
 * allocate) are as frequent as gives that find no room (and drop theirs): about half full, where
 * a take misses about once in 2^{@value #PROBES}. It looked at 4 neighbouring slots before, and the
 * pool sorted itself into runs: one take in seven allocated, and at TLS 64 B × 1 (a read buffer and a
 * write buffer of four records taken per message) the server collected about three times as often
 * and spent more CPU per message (BENCHMARKS.md, "TLS with a C generator").
 *
 * <p><b>Lent and returned.</b> Every buffer of a pooled size taken (from the pool or made anew)
 * is counted out ({@link #takenCount()}), and every one given back counted in
 * ({@link #givenCount()}), whether the pool keeps it or is full: a TLS connection gives back each
 * buffer it took exactly once, however it ends ({@link TlsTransport#releaseBuffers()}), so with
 * no TLS connection open the two are equal. A buffer dropped instead would be made anew for the
 * next connection, which is what the pool is for; one given twice would be lent to two.
 */
final class TlsBuffers {
    static final int RECORD = 17 * 1024;
    static final int BULK = 4 * RECORD;
    private static final int SLOTS = 256;
    private static final int PROBES = 16;
    private static final AtomicReferenceArray<ByteBuffer> RECORDS = new AtomicReferenceArray<>(SLOTS);
    private static final AtomicReferenceArray<ByteBuffer> BULKS = new AtomicReferenceArray<>(SLOTS);
    private static final LongAdder TAKEN = new LongAdder();
    private static final LongAdder GIVEN = new LongAdder();

    private TlsBuffers() {}

    /** A cleared heap buffer of at least {@code size} bytes (of {@link #BULK} bytes if {@code bulk}); pooled when it fits. */
    static ByteBuffer take(int size, boolean bulk) {
        int capacity = bulk ? BULK : RECORD;
        if (size > capacity) {
            return ByteBuffer.allocate(size); // not of a pooled size: never counted, never kept
        }
        TAKEN.increment();
        AtomicReferenceArray<ByteBuffer> pool = bulk ? BULKS : RECORDS;
        int r = ThreadLocalRandom.current().nextInt();
        for (int i = 0; i < PROBES; i++) {
            int slot = slot(r, i);
            ByteBuffer b = pool.get(slot);
            if (b != null && pool.compareAndSet(slot, b, null)) {
                return b.clear();
            }
        }
        return ByteBuffer.allocate(capacity);
    }

    /** A cleared buffer of at least {@code size} bytes, one record large. */
    static ByteBuffer take(int size) {
        return take(size, false);
    }

    /**
     * A copy of {@code b}'s remaining bytes in a buffer twice as large (at least {@code min}), read
     * mode; {@code b} is given back.
     */
    static ByteBuffer grow(ByteBuffer b, int min) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(min, 2 * b.capacity()));
        bigger.put(b).flip();
        give(b);
        return bigger;
    }

    /**
     * {@code b}'s remaining bytes in a buffer of at least {@code size} bytes, read mode: one of
     * {@link #RECORD} bytes (of {@link #BULK} if {@code bulk}) if they and {@code size} fit, else
     * one of just that size ({@link #take}); {@code b} is given back.
     */
    static ByteBuffer move(ByteBuffer b, int size, boolean bulk) {
        ByteBuffer to = take(Math.max(size, b.remaining()), bulk);
        to.put(b).flip();
        give(b);
        return to;
    }

    /**
     * {@code b} (read mode) for a reader about to wait for room for a put, or for its turn in a
     * give-way, not for input: null if it is empty (given back); else its remaining bytes in a
     * buffer of their size ({@code b} given back), or {@code b} itself. Nothing more will be read
     * into it before the wait ends, so it need hold no more than the peer sent: a buffer of a pooled size moves whenever its bytes do
     * not fill it, however many records they are; one of another size (parked at an earlier wait,
     * or a long record's) only once at most half of it is left, so that a reader waiting again
     * after each record it decrypts copies the bytes of one park at most twice over. A buffer of
     * their size is a pooled one when they make a pooled size (counted as taken, as its give will
     * be), else one the pools never see.
     */
    static @Nullable ByteBuffer park(ByteBuffer b) {
        int n = b.remaining();
        if (n == 0) {
            give(b);
            return null;
        }
        int capacity = b.capacity();
        boolean pooled = capacity == RECORD || capacity == BULK;
        if (pooled ? n == capacity : n > capacity / 2) {
            return b;
        }
        ByteBuffer to = n == RECORD || n == BULK ? take(n, n == BULK) : ByteBuffer.allocate(n);
        to.put(b).flip();
        give(b);
        return to;
    }

    /** Returns a buffer the caller no longer uses; buffers of other sizes are left to the garbage collector. */
    static void give(ByteBuffer b) {
        AtomicReferenceArray<ByteBuffer> pool = b.capacity() == RECORD ? RECORDS : b.capacity() == BULK ? BULKS : null;
        if (pool == null) {
            return;
        }
        GIVEN.increment();
        int r = ThreadLocalRandom.current().nextInt();
        for (int i = 0; i < PROBES; i++) {
            int slot = slot(r, i);
            if (pool.get(slot) == null && pool.compareAndSet(slot, null, b)) {
                return;
            }
        }
    }

    /** Buffers of a pooled size taken so far, from the pool or made anew; for tests and measurements. */
    static long takenCount() {
        return TAKEN.sum();
    }

    /** Buffers of a pooled size given back so far, kept or (the pool full) dropped; for tests and measurements. */
    static long givenCount() {
        return GIVEN.sum();
    }

    /**
     * The slot of look {@code i} of an operation that drew {@code r}: from a random slot, in steps
     * of a random odd size (all slots, in an order of the operation's own). Looks at neighbouring
     * slots, or in one order for all, would let takes and gives sort the pool into runs of empty
     * and of full slots, and a look that began in a long run would miss.
     */
    private static int slot(int r, int i) {
        return (r + i * (r >>> 16 | 1)) & (SLOTS - 1);
    }
}
