package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The read-buffer pool gives back what it was given: a take from a half-full pool almost never
 * allocates; there are never more wide buffers than their count.
 */
class ReadBuffersTest {

    @Test
    void aHalfFullPoolAlmostNeverAllocates() {
        Set<byte[]> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<byte[]> drained = new ArrayList<>();
        for (int i = 0; i < 4096; i++) { // empty the pool (nearly: a few may stay, seen later as misses)
            drained.add(ReadBuffers.take(false));
        }
        seen.addAll(drained);
        for (int i = 0; i < 128; i++) { // half of its 256 slots
            ReadBuffers.give(drained.get(i));
        }

        int takes = 100_000;
        int allocated = 0;
        for (int i = 0; i < takes; i++) {
            byte[] b = ReadBuffers.take(false);
            if (seen.add(b)) {
                allocated++;
            }
            ReadBuffers.give(b);
        }

        // Random slots miss one take in 2^16 here; runs of neighbouring slots missed about 3 %.
        assertThat(allocated).as("takes that allocated, of %d", takes).isLessThan(100);
    }

    @Test
    void aTakeGetsTheSizeItAskedForWhateverWasGiven() {
        for (int i = 0; i < 512; i++) {
            ReadBuffers.give(new byte[100]);
            ReadBuffers.give(new byte[ReadBuffers.SIZE + 1]);
        }
        for (int i = 0; i < 1024; i++) {
            assertThat(ReadBuffers.take(false)).hasSize(ReadBuffers.SIZE);
            assertThat(ReadBuffers.take(true)).hasSize(ReadBuffers.LARGE);
        }
    }

    @Test
    void wideBuffersAreAFixedSetThatTakesRunOutOf() {
        Set<byte[]> taken = Collections.newSetFromMap(new IdentityHashMap<>());
        try {
            for (int i = 0; i < 4 * ReadBuffers.WIDE_COUNT; i++) {
                byte[] b = ReadBuffers.takeWide();
                if (b == null) {
                    break;
                }
                assertThat(b).hasSize(ReadBuffers.WIDE);
                taken.add(b);
            }
            // All of them unless a test before this one left some with a reader that has not ended.
            assertThat(taken.size()).as("wide buffers taken before a take found none").isBetween(1, ReadBuffers.WIDE_COUNT);
            assertThat(ReadBuffers.takeWide()).isNull();

            byte[] one = taken.iterator().next();
            ReadBuffers.give(one);
            assertThat(ReadBuffers.takeWide()).as("the one given back").isSameAs(one);
        } finally {
            taken.forEach(ReadBuffers::give);
        }
        Set<byte[]> again = Collections.newSetFromMap(new IdentityHashMap<>());
        try {
            for (byte[] b; (b = ReadBuffers.takeWide()) != null; ) {
                again.add(b);
            }
            assertThat(again).as("those given back").containsAll(taken);
            assertThat(again.size()).isLessThanOrEqualTo(ReadBuffers.WIDE_COUNT);
        } finally {
            again.forEach(ReadBuffers::give);
        }
    }
}
