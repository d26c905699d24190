package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class TlsBuffersTest {

    /**
     * A TLS message on a readiness transport takes a read buffer and a write buffer of four
     * records and gives both back: in steady use the pool must hand back buffers it holds, not
     * allocate (a 68 KiB array zeroed each time). With looks at 4 neighbouring slots, one take in seven
     * allocated; the bound here is one in a thousand.
     */
    @Test
    void takesInSteadyUseAlmostNeverAllocate() {
        for (int i = 0; i < 20_000; i++) { // the pool settles
            message();
        }
        int allocated = 0;
        int takes = 200_000;
        for (int i = 0; i < takes / 2; i++) {
            allocated += message();
        }
        assertThat(allocated).as("takes that allocated, of %d", takes).isLessThan(takes / 1000);
    }

    /**
     * Two bulk takes and two gives, as one message; how many of the takes were new buffers (a
     * buffer is marked in its first byte when first taken: a take clears positions, not bytes).
     */
    private static int message() {
        ByteBuffer read = TlsBuffers.take(16_709, true);
        ByteBuffer write = TlsBuffers.take(16_709, true);
        int fresh = fresh(read) + fresh(write);
        TlsBuffers.give(write);
        TlsBuffers.give(read);
        return fresh;
    }

    private static int fresh(ByteBuffer b) {
        if (b.get(0) == MARK) {
            return 0;
        }
        b.put(0, MARK);
        return 1;
    }

    private static final byte MARK = 42;
}
