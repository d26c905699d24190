package io.stcp.internal;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small lock-free pool of connection read buffers. On a native transport a connection gives its
 * empty buffer back before it waits for input, so an idle connection holds none; under load the
 * same few buffers go round. Bounded: at most {@value #SLOTS} buffers are kept, any more are left
 * to the garbage collector.
 */
final class ReadBuffers {
    static final int SIZE = 4096;
    private static final int SLOTS = 256;
    private static final int PROBES = 4;
    private static final AtomicReferenceArray<byte[]> POOL = new AtomicReferenceArray<>(SLOTS);

    private ReadBuffers() {}

    /** A buffer of {@link #SIZE} bytes, from the pool when it has one. */
    static byte[] take() {
        int start = ThreadLocalRandom.current().nextInt(SLOTS);
        for (int i = 0; i < PROBES; i++) {
            int slot = (start + i) & (SLOTS - 1);
            byte[] b = POOL.get(slot);
            if (b != null && POOL.compareAndSet(slot, b, null)) {
                return b;
            }
        }
        return new byte[SIZE];
    }

    /** Returns a buffer the caller no longer uses. */
    static void give(byte[] b) {
        int start = ThreadLocalRandom.current().nextInt(SLOTS);
        for (int i = 0; i < PROBES; i++) {
            int slot = (start + i) & (SLOTS - 1);
            if (POOL.get(slot) == null && POOL.compareAndSet(slot, null, b)) {
                return;
            }
        }
    }
}
