package io.stcp.internal;

import java.lang.ref.WeakReference;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * Small lock-free pools of connection read buffers, in three sizes. On a native transport a
 * connection gives its buffer back before it waits for input (keeping at most a small one for
 * bytes of an unfinished value), so an idle connection holds none; under load the same few
 * buffers go round. A connection whose peer sends more than a {@link #SIZE small} buffer at a
 * time reads into a {@link #LARGE large} one, so a 16 KiB frame is one system call, not five.
 * A send thread borrows a small one to join a batch of short messages into one write
 * ({@link QueueWriter}). Bounded: at most {@value #SLOTS} small and {@value #LARGE_SLOTS} large
 * buffers are kept, any more are left to the garbage collector.
 *
 * <p><b>Wide buffers.</b> A connection whose peer streams reads into a {@link #WIDE wide} buffer
 * while it can, one {@link ConnectionInput#TURN_BYTES turn} long, so that the replies it lends from
 * it are written together (at 16 KiB frames, 16 in flight: one {@code send} per 16 frames, not per
 * 4). There are at most {@link #WIDE_COUNT} of them (twice the cores, at least 8), made when first
 * needed and kept: a reader gives its wide buffer back before it waits or gives way (unless more
 * than a large buffer's worth of a value is left in it) and when its connection ends
 * ({@link ConnectionInput}), so the few readers running share them, and they grow old in the heap
 * instead of being copied by young collections as per-connection buffers of this size were
 * (BENCHMARKS.md, "Wide read buffers"). When all are taken a reader reads into a large buffer: no
 * peer can make the server hold more than {@code WIDE_COUNT × WIDE} bytes of them.
 *
 * <p>A take or give looks at up to {@value #PROBES} slots, each picked at random. Runs of
 * neighbouring slots from a random start (as before) let the full and the empty slots gather in
 * runs of their own: with 16 such probes a pool settled half full, and at one 64-byte frame in
 * flight 2.8 % of takes still found nothing and allocated (a quarter of the bytes the server
 * allocated at 16 KiB frames with 4 probes), and as many gives found no room. With random slots,
 * a half-full pool misses one take in 2^16: none were counted after warm-up.
 */
final class ReadBuffers {
    static final int SIZE = 4096;
    static final int LARGE = 64 * 1024;
    /** A turn's bytes: the replies lent from a turn's reads are written in one drain. */
    static final int WIDE = ConnectionInput.TURN_BYTES;
    static final int WIDE_COUNT = Math.max(8, 2 * Runtime.getRuntime().availableProcessors());
    private static final int SLOTS = 256;
    private static final int LARGE_SLOTS = 32;
    private static final int PROBES = 16;
    private static final AtomicReferenceArray<byte[]> SMALL_POOL = new AtomicReferenceArray<>(SLOTS);
    private static final AtomicReferenceArray<byte[]> LARGE_POOL = new AtomicReferenceArray<>(LARGE_SLOTS);
    private static final AtomicReferenceArray<byte[]> WIDE_POOL = new AtomicReferenceArray<>(WIDE_COUNT);
    /**
     * Every wide buffer there is, weakly: one its holder dropped without giving it back (a reader
     * that failed, say) makes room for a new one once the collector has found it unreachable.
     */
    private static final AtomicReferenceArray<WeakReference<byte[]>> WIDE_MADE = new AtomicReferenceArray<>(WIDE_COUNT);

    private ReadBuffers() {}

    /** A buffer of {@link #LARGE} bytes if {@code large}, else of {@link #SIZE}; from the pool when it has one. */
    static byte[] take(boolean large) {
        AtomicReferenceArray<byte[]> pool = large ? LARGE_POOL : SMALL_POOL;
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < PROBES; i++) {
            int slot = random.nextInt() & (pool.length() - 1);
            byte[] b = pool.get(slot);
            if (b != null && pool.compareAndSet(slot, b, null)) {
                return b;
            }
        }
        return new byte[large ? LARGE : SIZE];
    }

    /**
     * A {@link #WIDE} buffer, from the pool or made if fewer than {@link #WIDE_COUNT} exist, or null
     * when all are taken. The caller gives it back before it waits.
     */
    static byte @Nullable [] takeWide() {
        int start = ThreadLocalRandom.current().nextInt(WIDE_COUNT);
        for (int i = 0; i < WIDE_COUNT; i++) {
            int slot = (start + i) % WIDE_COUNT;
            byte[] b = WIDE_POOL.get(slot);
            if (b != null && WIDE_POOL.compareAndSet(slot, b, null)) {
                return b;
            }
        }
        byte[] b = null; // made once, for whichever free place in the registry it gets
        for (int i = 0; i < WIDE_COUNT; i++) {
            WeakReference<byte[]> made = WIDE_MADE.get(i);
            if (made == null || made.refersTo(null)) {
                if (b == null) {
                    b = new byte[WIDE];
                }
                if (WIDE_MADE.compareAndSet(i, made, new WeakReference<>(b))) {
                    return b;
                }
            }
        }
        return null;
    }

    /** Returns a buffer of any of the three sizes that the caller no longer uses; one of another size is left to the collector. */
    static void give(byte[] b) {
        if (b.length == WIDE) {
            giveWide(b);
            return;
        }
        if (b.length != SIZE && b.length != LARGE) {
            return; // a take promises its size
        }
        AtomicReferenceArray<byte[]> pool = b.length == LARGE ? LARGE_POOL : SMALL_POOL;
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < PROBES; i++) {
            int slot = random.nextInt() & (pool.length() - 1);
            if (pool.get(slot) == null && pool.compareAndSet(slot, null, b)) {
                return;
            }
        }
    }

    /** Every slot is looked at: there is one free for each wide buffer out, unless a racing give took it first. */
    private static void giveWide(byte[] b) {
        int start = ThreadLocalRandom.current().nextInt(WIDE_COUNT);
        for (int i = 0; i < WIDE_COUNT; i++) {
            int slot = (start + i) % WIDE_COUNT;
            if (WIDE_POOL.get(slot) == null && WIDE_POOL.compareAndSet(slot, null, b)) {
                return;
            }
        }
        for (int i = 0; i < WIDE_COUNT; i++) { // left to the collector: another may be made in its place
            WeakReference<byte[]> made = WIDE_MADE.get(i);
            if (made != null && made.refersTo(b) && WIDE_MADE.compareAndSet(i, made, null)) {
                return;
            }
        }
    }
}
