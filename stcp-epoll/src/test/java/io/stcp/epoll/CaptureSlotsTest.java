package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The slots {@link SocketSyscalls}' calls capture errno into: lent to one taker at a time. */
class CaptureSlotsTest {
    private final CaptureSlots slots = new CaptureSlots(Linker.Option.captureStateLayout());

    @Test
    void lendsEverySlotOnceAndSaysWhenAllAreTaken() {
        Set<Integer> taken = new HashSet<>();
        for (int i = 0; i < CaptureSlots.size(); i++) {
            int s = slots.take();
            assertThat(s).isBetween(0, CaptureSlots.size() - 1);
            assertThat(taken.add(s)).as("slot %d lent twice", s).isTrue();
            assertThat(slots.segment(s).byteSize()).isEqualTo(Linker.Option.captureStateLayout().byteSize());
        }
        assertThat(slots.take()).as("every slot taken").isEqualTo(-1);
        assertThat(slots.takenCount()).isEqualTo(CaptureSlots.size());

        slots.give(7);
        assertThat(slots.take()).as("the one given back").isEqualTo(7);
        for (int s : taken) {
            slots.give(s);
        }
        assertThat(slots.takenCount()).isZero();
    }

    @Test
    void slotsDoNotOverlapAndStartOnCacheLines() {
        List<MemorySegment> regions = new ArrayList<>();
        for (int i = 0; i < CaptureSlots.size(); i++) {
            assertThat(slots.segment(i).address() % 64).isZero();
            assertThat(slots.vector(i).byteSize()).isEqualTo(CaptureSlots.VECTOR_LENGTH * CaptureSlots.IOVEC_BYTES);
            regions.add(slots.segment(i));
            regions.add(slots.vector(i));
        }
        regions.sort(java.util.Comparator.comparingLong(MemorySegment::address));
        for (int i = 1; i < regions.size(); i++) {
            MemorySegment before = regions.get(i - 1);
            assertThat(regions.get(i).address()).isGreaterThanOrEqualTo(before.address() + before.byteSize());
        }
        assertThat(slots.vector(0).address() - slots.segment(0).address()).as("errno on a line of its own").isEqualTo(64);
    }

    @Test
    void concurrentTakersNeverHoldTheSameSlot() throws Exception {
        AtomicIntegerArray holders = new AtomicIntegerArray(CaptureSlots.size());
        AtomicInteger shared = new AtomicInteger();
        AtomicInteger lent = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 20_000; i++) {
                    int s = slots.take();
                    if (s < 0) {
                        continue; // all taken: the caller captures elsewhere
                    }
                    lent.incrementAndGet();
                    if (holders.incrementAndGet(s) != 1) {
                        shared.incrementAndGet();
                    }
                    holders.decrementAndGet(s);
                    slots.give(s);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(shared.get()).as("a slot held by two takers at once").isZero();
        assertThat(lent.get()).isEqualTo(8 * 20_000); // 8 takers, 64 slots: never all taken
        assertThat(slots.takenCount()).isZero();
    }
}
