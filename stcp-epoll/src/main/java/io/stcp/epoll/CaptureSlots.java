package io.stcp.epoll;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Native memory where {@link SocketSyscalls}' calls capture {@code errno}, lent one slot per call,
 * so that a call allocates nothing for it. Capturing into a new heap array per call (the array,
 * its segment and the segment's session) was an eighth of what the echo server allocated per
 * message at one request in flight, and on the machine measured every byte allocated per message
 * costs in the cache (BENCHMARKS.md, "The remaining copies, …").
 *
 * <p><b>States,</b> per slot: FREE → TAKEN by {@link #take()} (a compare-and-set), TAKEN → FREE by
 * {@link #give(int)}. A slot is held from just before a call until its {@code errno} has been
 * read: a critical call never leaves its carrier and nothing in between blocks, so a carrier holds
 * one slot at a time, for well under a microsecond. When every slot is taken (more threads calling
 * at once than there are slots), {@link #take()} says so and the caller captures into memory of
 * its own. The slots are a cache line apart, so carriers on different cores do not share a line;
 * they live as long as the JVM (4 KiB).
 */
final class CaptureSlots {
    private static final int SLOTS = 64; // a power of two
    private static final long STRIDE = 64;

    private final MemorySegment[] slots = new MemorySegment[SLOTS];
    private final AtomicIntegerArray taken = new AtomicIntegerArray(SLOTS);

    /** @param capture the layout of what a call captures ({@code Linker.Option.captureStateLayout()}) */
    CaptureSlots(MemoryLayout capture) {
        if (capture.byteSize() > STRIDE) {
            throw new IllegalArgumentException("capture layout of " + capture.byteSize() + " bytes (expected: <= " + STRIDE + ")");
        }
        MemorySegment all = Arena.global().allocate(STRIDE * SLOTS, STRIDE);
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = all.asSlice(i * STRIDE, capture.byteSize());
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
