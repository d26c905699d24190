package io.stcp.epoll;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Native memory where {@link SocketSyscalls}' calls and {@code epoll_ctl} capture {@code errno},
 * and where a gathering write lays out its vector of buffers ({@code epoll_ctl} its event), lent
 * one slot per call, so that a call allocates nothing for either. Capturing into a new heap array
 * per call (the array, its segment and the segment's session) was an eighth of what the echo server
 * allocated per message at one request in flight, and on the machine measured every byte allocated
 * per message costs in the cache (BENCHMARKS.md, "The remaining copies, …"); an {@code epoll_ctl}
 * in memory of its own (a confined arena: two native allocations and their segments) was a tenth
 * of what setting up a connection allocated ("Where the one-frame gap lies").
 *
 * <p><b>States,</b> per slot: FREE → TAKEN by {@link #take()} (a compare-and-set), TAKEN → FREE by
 * {@link #give(int)}. A slot is held from just before a call until its {@code errno} has been
 * read: a downcall never leaves its carrier (a virtual thread in one is pinned), these never wait
 * for long, nor does anything in between, so a carrier holds one slot at a time, for one call. When
 * every slot is taken (more threads calling at once than there are slots), {@link #take()} says so
 * and the caller captures into memory of its own, or leaves a gathering write to the JDK's channel.
 * Slots start on cache lines and share none, so carriers on different cores do not share a line;
 * they live as long as the JVM (64 slots of 64 bytes for {@code errno} and
 * {@value #VECTOR_LENGTH} {@code iovec}s: 68 KiB).
 */
final class CaptureSlots {
    /** The {@code iovec}s of a slot's vector: the most buffers one gathering write takes. */
    static final int VECTOR_LENGTH = 64;
    static final long IOVEC_BYTES = 16; // struct iovec on a 64-bit Linux: a pointer and a length
    private static final int SLOTS = 64; // a power of two
    private static final long CAPTURE_BYTES = 64; // a cache line
    private static final long STRIDE = CAPTURE_BYTES + VECTOR_LENGTH * IOVEC_BYTES;

    private final MemorySegment[] slots = new MemorySegment[SLOTS];
    private final MemorySegment[] vectors = new MemorySegment[SLOTS];
    private final AtomicIntegerArray taken = new AtomicIntegerArray(SLOTS);

    /** @param capture the layout of what a call captures ({@code Linker.Option.captureStateLayout()}) */
    CaptureSlots(MemoryLayout capture) {
        if (capture.byteSize() > CAPTURE_BYTES) {
            throw new IllegalArgumentException("capture layout of " + capture.byteSize() + " bytes (expected: <= "
                    + CAPTURE_BYTES + ")");
        }
        MemorySegment all = Arena.global().allocate(STRIDE * SLOTS, CAPTURE_BYTES);
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = all.asSlice(i * STRIDE, capture.byteSize());
            vectors[i] = all.asSlice(i * STRIDE + CAPTURE_BYTES, VECTOR_LENGTH * IOVEC_BYTES);
        }
    }

    /** A free slot, now taken by the caller, or -1 when every slot is taken. */
    int take() {
        int start = (int) Thread.currentThread().threadId(); // spreads the threads of several carriers
        for (int i = 0; i < SLOTS; i++) {
            int s = (start + i) & (SLOTS - 1);
            if (taken.get(s) == 0 && taken.compareAndSet(s, 0, 1)) {
                return s;
            }
        }
        return -1;
    }

    /** The memory of a slot the caller took. */
    MemorySegment segment(int slot) {
        return slots[slot];
    }

    /** The vector of {@link #VECTOR_LENGTH} {@code iovec}s of a slot the caller took. */
    MemorySegment vector(int slot) {
        return vectors[slot];
    }

    /** Gives back a slot the caller took; its memory is not to be used any more. */
    void give(int slot) {
        taken.set(slot, 0);
    }

    /** Slots taken now; for tests. */
    int takenCount() {
        int n = 0;
        for (int i = 0; i < SLOTS; i++) {
            n += taken.get(i);
        }
        return n;
    }

    /** How many slots there are. */
    static int size() {
        return SLOTS;
    }
}
