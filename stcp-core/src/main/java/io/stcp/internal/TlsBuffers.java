package io.stcp.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small lock-free pool of the TLS layer's buffers, each large enough for one TLS record
 * ({@value #SIZE} bytes: the JDK's packet buffer size is 16,709, its application buffer size
 * 16,704). A TLS connection takes them while it has encrypted or decrypted bytes in hand, or a
 * write in progress, and gives them back when it has none, so that an idle connection on a
 * readiness transport holds none. Bounded: at most {@value #SLOTS} are kept; more are left to the
 * garbage collector.
 */
final class TlsBuffers {
    static final int SIZE = 17 * 1024;
    private static final int SLOTS = 256;
    private static final int PROBES = 4;
    private static final AtomicReferenceArray<ByteBuffer> POOL = new AtomicReferenceArray<>(SLOTS);

    private TlsBuffers() {}

    /** A heap buffer of at least {@code size} bytes, cleared; from the pool when it fits. */
    static ByteBuffer take(int size) {
        if (size <= SIZE) {
            int start = ThreadLocalRandom.current().nextInt(SLOTS);
            for (int i = 0; i < PROBES; i++) {
                int slot = (start + i) & (SLOTS - 1);
                ByteBuffer b = POOL.get(slot);
                if (b != null && POOL.compareAndSet(slot, b, null)) {
                    return b.clear();
                }
            }
        }
        return ByteBuffer.allocate(Math.max(size, SIZE));
    }

    /** Returns a buffer the caller no longer uses; others are left to the garbage collector. */
    static void give(ByteBuffer b) {
        if (b.capacity() != SIZE) {
            return;
        }
        int start = ThreadLocalRandom.current().nextInt(SLOTS);
        for (int i = 0; i < PROBES; i++) {
            int slot = (start + i) & (SLOTS - 1);
            if (POOL.get(slot) == null && POOL.compareAndSet(slot, null, b)) {
                return;
            }
        }
    }
}
