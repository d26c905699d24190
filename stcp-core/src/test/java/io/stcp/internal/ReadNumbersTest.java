package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ConnectionInput}'s numbers in both byte orders, read from the buffer without a box: a
 * value outside the small-value caches, boxed on every read, would cost a {@code Short},
 * {@code Integer} or {@code Long} per call (16–24 bytes each) until the compiler took it away,
 * which it did not always do (a boxing call stayed in the profile of the echo server). The
 * thread's allocated bytes are read through reflection: stcp's module does not read
 * {@code java.management}.
 */
class ReadNumbersTest {
    private static final int GROUPS = 140; // 28 bytes each: all of them fit the first, small read buffer
    private static final short S = (short) 0xC1C2;
    private static final int I = 0xA1A2A3A4;
    private static final long L = 0xB1B2B3B4B5B6B7B8L;

    private final MemoryTransport memory = new MemoryTransport();
    private final ConnectionInput input = new ConnectionInput(new CountingTransport(memory), true, null, 0, 0, () -> {});

    @AfterEach
    void endInput() {
        input.ended(); // its wide buffer, if it took one, back to the pool
    }

    @Test
    void shortsIntsAndLongsInBothOrdersAllocateNothing() throws Exception {
        ByteBuffer all = ByteBuffer.allocate(GROUPS * 28);
        for (int g = 0; g < GROUPS; g++) {
            all.order(ByteOrder.BIG_ENDIAN).putShort(S).putInt(I).putLong(L);
            all.order(ByteOrder.LITTLE_ENDIAN).putShort(S).putInt(I).putLong(L);
        }
        memory.feed(all.array());
        int wrong = readGroup(); // the first read takes the buffer

        Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocatedBytes = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        long before = (long) allocatedBytes.invoke(threads);
        for (int g = 1; g < GROUPS; g++) {
            wrong += readGroup();
        }
        long allocated = (long) allocatedBytes.invoke(threads) - before;

        assertThat(wrong).as("values read wrong").isZero();
        assertThat(input.buffered()).isZero();
        assertThat(allocated).as("bytes allocated by %d reads", 6 * (GROUPS - 1)).isLessThan(1024);
    }

    /** How many of a group's six values were read wrong (compared here: an assertion would allocate). */
    private int readGroup() throws IOException {
        int wrong = input.readShort(true) == S ? 0 : 1;
        wrong += input.readInt(true) == I ? 0 : 1;
        wrong += input.readLong(true) == L ? 0 : 1;
        wrong += input.readShort(false) == S ? 0 : 1;
        wrong += input.readInt(false) == I ? 0 : 1;
        wrong += input.readLong(false) == L ? 0 : 1;
        return wrong;
    }
}
