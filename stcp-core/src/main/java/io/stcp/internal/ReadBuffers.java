package io.stcp.internal;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Small lock-free pools of connection read buffers, in two sizes. On a native transport a
 * connection gives its buffer back before it waits for input (keeping at most a small one for
 * bytes of an unfinished value), so an idle connection holds none; under load the same few
 * buffers go round. A connection whose peer sends more than a {@link #SIZE small} buffer at a
 * time reads into a {@link #LARGE large} one, so a 16 KiB frame is one system call, not five.
 * A send thread borrows a small one to join a batch of short messages into one write
 * ({@link QueueWriter}). Bounded: at most {@value #SLOTS} small and {@value #LARGE_SLOTS} large
 * buffers are kept, any more are left to the garbage collector.
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
    private static final int SLOTS = 256;
    private static final int LARGE_SLOTS = 32;
    private static final int PROBES = 16;
    private static final AtomicReferenceArray<byte[]> SMALL_POOL = new AtomicReferenceArray<>(SLOTS);
    private static final AtomicReferenceArray<byte[]> LARGE_POOL = new AtomicReferenceArray<>(LARGE_SLOTS);

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

    /** Returns a buffer of either size that the caller no longer uses; one of another size is left to the collector. */
    static void give(byte[] b) {
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
}
