package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.FrameTimeoutException;
import io.stcp.framing.FrameTooLongException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How {@code readBytes} sizes the array of a value longer than what is buffered: from the bytes
 * that have arrived (buffered, or held by the socket), never from the length announced.
 */
class GrowingReadTest {
    private static final int LENGTH = 1 << 20;

    private final MemoryTransport memory = new MemoryTransport();
    private final CountingTransport transport = new CountingTransport(memory);

    @Test
    void aValueWhoseBytesHaveAllArrivedIsReadIntoOneArrayWithoutGrowing() throws IOException {
        ConnectionInput input = new ConnectionInput(transport, true, null, 0, 0, () -> {});
        byte[] body = body(LENGTH);
        memory.feed(ByteBuffer.allocate(4 + LENGTH).putInt(LENGTH).put(body).array());

        int length = input.readInt(true);

        assertThat(input.readBytes(length)).isEqualTo(body);
        // A buffer's worth, then the rest straight into the array. Growing fourfold from what was
        // buffered took four more reads (16 KiB, 64 KiB, 256 KiB, 1 MiB) and three copies.
        assertThat(transport.reads).isEqualTo(2);
    }

    @Test
    void aValueBeyondTheWholeBudgetFailsBeforeItsRestIsWaitedFor() throws Exception {
        // The epoll transport lets a large value's rest wait in the kernel (awaitInput) before its
        // array is made; a value the budget can never hold must fail before that wait, which a
        // peer that sent the header alone held open until its frame timeout.
        InboundBudget budget = new InboundBudget(1L << 20);
        ConnectionInput input = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        memory.feed(ByteBuffer.allocate(4 + 1024).putInt(4 << 20).array());
        int length = input.readInt(true);

        assertThatThrownBy(() -> input.readBytes(length)).isInstanceOf(FrameTooLongException.class)
                .hasMessage("a value of at least " + (4 << 20) + " bytes needs more than the server's inbound budget of "
                        + (1 << 20) + " bytes (ServerConfig.inboundBudget)");
        assertThat(transport.awaits).as("waits for the rest").isZero();
        assertThat(budget.usedBytes()).isZero();
    }

    @Test
    void noArrayBeyondABufferIsMadeWhileTheBudgetHasNoRoomForIt() throws Exception {
        // Other connections hold the whole budget; 2 MiB of a 12 MiB frame have arrived. The read
        // waits for room until its frame timeout, and must not hold (or first make) the 8 MiB
        // array those bytes would justify meanwhile: the budget bounds the memory, not the count.
        // Measured the second time: the first run of this path on a thread allocates megabytes
        // of its own (classes loaded, string concatenation linked) when it runs first in the JVM.
        InboundBudget budget = new InboundBudget(16L << 20);
        budget.reserve(16L << 20, true, null, 0, () -> true);
        for (int run = 0; run < 2; run++) {
            MemoryTransport memory = new MemoryTransport();
            ConnectionInput input = new ConnectionInput(memory, true, budget, TimeUnit.MILLISECONDS.toNanos(300), 0, () -> {});
            int sent = 2 << 20;
            memory.feed(ByteBuffer.allocate(4 + sent).putInt(12 << 20).array()); // one the budget would hold
            int length = input.readInt(true);

            long before = allocatedBytes();
            assertThatThrownBy(() -> input.readBytes(length)).isInstanceOf(FrameTimeoutException.class);
            long allocated = allocatedBytes() - before;

            if (run == 1) {
                assertThat(allocated).as("bytes allocated by the read").isLessThan(1L << 20);
            }
            assertThat(budget.usedBytes()).isEqualTo(16L << 20);
        }
    }

    /** The bytes this thread has allocated so far (the JDK's management bean; this module does not read its module). */
    private static long allocatedBytes() throws ReflectiveOperationException {
        Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        return (long) Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes").invoke(threads);
    }

    @Test
    void theArrayFollowsTheBytesThatArrivedNotTheLengthAnnounced() throws Exception {
        InboundBudget budget = new InboundBudget(64L << 20);
        ConnectionInput input = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        byte[] body = body(LENGTH);
        int sent = 8 * 1024;
        memory.feed(ByteBuffer.allocate(4 + sent).putInt(LENGTH).put(body, 0, sent).array());
        int length = input.readInt(true);

        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(length);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead); // waiting for more bytes
        // What an array holds beyond one buffer is reserved from the budget while it fills.
        assertThat(budget.usedBytes()).isPositive().isLessThanOrEqualTo(4L * sent - ConnectionInput.BUFFER_SIZE);

        memory.feed(Arrays.copyOfRange(body, sent, LENGTH));
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(body);
        ValueInHand.assertChargedUntilGivenUp(budget, input, 0, LENGTH);
    }

    @Test
    void aValueReadStaysChargedUntilItsReaderReadsAgain() throws Exception {
        // The old code gave the array's part back as it handed the value over: a reader that then
        // waited (for room to put it, say) held a value that no budget counted.
        InboundBudget budget = new InboundBudget(64L << 20);
        ConnectionInput input = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        byte[] body = body(LENGTH);
        memory.feed(ByteBuffer.allocate(4 + LENGTH + 1).putInt(LENGTH).put(body).put((byte) 9).array());

        assertThat(input.readBytes(input.readInt(true))).isEqualTo(body);
        assertThat(budget.usedBytes()).as("held by its reader").isEqualTo(LENGTH - ConnectionInput.BUFFER_SIZE);
        assertThat(input.readUnsignedByte()).isEqualTo(9);
        assertThat(budget.usedBytes()).as("given up at its reader's next read").isZero();
    }

    @Test
    void pastHalfTheBudgetTheArrayGrowsByAQuarterOfWhatArrived() throws Exception {
        // Other connections hold 9 of 16 MiB. A peer announces 6 MiB and sends 1 MiB, then, each
        // time, exactly what fills its array: the array is a quarter larger than what arrived (at
        // least MIN_GROWING bytes), where fourfold held 4 MiB for 1 MiB sent.
        InboundBudget budget = new InboundBudget(16L << 20);
        long others = 9L << 20;
        budget.reserve(others, true, null, 0, () -> true);
        ConnectionInput input = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        int length = 6 << 20;
        byte[] body = body(length);
        int sent = 1 << 20;
        memory.feed(ByteBuffer.allocate(4 + sent).putInt(length).put(body, 0, sent).array());
        int n = input.readInt(true);
        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(n);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });

        long held = others;
        for (int growth = 0; growth < 3; growth++) {
            long before = held;
            await().atMost(Duration.ofSeconds(10)).until(() -> budget.usedBytes() > before);
            held = budget.usedBytes(); // the array is not full: it does not grow again until fed
            long array = held - others + ConnectionInput.BUFFER_SIZE;
            assertThat(array).as("array for %d bytes sent", sent)
                    .isBetween(sent + (long) ConnectionInput.MIN_GROWING, sent + sent / 4 + (long) ConnectionInput.MIN_GROWING);
            memory.feed(Arrays.copyOfRange(body, sent, (int) array));
            sent = (int) array;
        }

        memory.feed(Arrays.copyOfRange(body, sent, length));
        assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(body);
        ValueInHand.assertChargedUntilGivenUp(budget, input, others, length);
    }

    @Test
    void twoValuesLargerThanHalfTheBudgetThatPauseAndTrickleBothComplete() throws Exception {
        // A budget of 10 MiB, two 6 MiB values. The first has 4 of its 6 MiB and pauses; the
        // second trickles in 256 KiB pieces. Growing by a quarter, the second could take the
        // budget down to what neither needs to finish: the first, needing its last MiB, and the
        // second would then wait for each other. An array that does not complete its value leaves
        // the last fifth of the budget to one that does: the first finishes, then the second.
        InboundBudget budget = new InboundBudget(10L << 20);
        int length = 6 << 20;
        byte[] body = body(length);
        MemoryTransport firstMemory = new MemoryTransport();
        CountingTransport firstTransport = new CountingTransport(firstMemory);
        ConnectionInput firstInput = new ConnectionInput(firstTransport, true, budget, 0, 0, () -> {});
        firstMemory.feed(Arrays.copyOf(body, 4 << 20));
        CompletableFuture<byte[]> first = readAsync(firstInput, length);
        await().atMost(Duration.ofSeconds(10)).until(() -> firstTransport.inRead && firstMemory.available() == 0);

        ConnectionInput secondInput = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        CompletableFuture<byte[]> second = readAsync(secondInput, length);
        int piece = 256 << 10;
        for (int sent = 0; sent < 5 << 20; sent += piece) {
            memory.feed(Arrays.copyOfRange(body, sent, sent + piece));
            // taken, or the second waits for the budget with the piece unread
            await().atMost(Duration.ofSeconds(10)).until(() -> memory.available() == 0 && transport.inRead
                    || budget.waiters() > 0);
        }

        firstMemory.feed(Arrays.copyOfRange(body, 4 << 20, length));
        memory.feed(Arrays.copyOfRange(body, 5 << 20, length));
        assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(body);
        firstInput.giveUp(); // its reader reads on: the second finishes in the room it leaves
        assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(body);
        ValueInHand.assertChargedUntilGivenUp(budget, secondInput, 0, length);
    }

    private static CompletableFuture<byte[]> readAsync(ConnectionInput input, int n) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(n);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aValueAfterAPrefixGrowsAsItsBytesArriveAndKeepsThePrefix() throws Exception {
        InboundBudget budget = new InboundBudget(64L << 20);
        ConnectionInput input = new ConnectionInput(transport, true, budget, 0, 0, () -> {});
        byte[] prefix = {1, 2, 3, 4, 5};
        byte[] body = body(LENGTH);
        int sent = 8 * 1024;
        memory.feed(Arrays.copyOf(body, sent));

        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(prefix, LENGTH);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead);
        assertThat(budget.usedBytes()).isPositive().isLessThanOrEqualTo(prefix.length + 4L * sent);

        // In pieces, so that the array grows more than once after its prefix.
        for (int off = sent; off < LENGTH; off += 100_000) {
            memory.feed(Arrays.copyOfRange(body, off, Math.min(LENGTH, off + 100_000)));
        }
        byte[] value = read.get(10, TimeUnit.SECONDS);
        assertThat(Arrays.copyOf(value, prefix.length)).isEqualTo(prefix);
        assertThat(Arrays.copyOfRange(value, prefix.length, value.length)).isEqualTo(body);
        ValueInHand.assertChargedUntilGivenUp(budget, input, 0, value.length);
    }

    @Test
    void emptyBufferedAndSmallValuesAreReadWhole() throws Exception {
        ConnectionInput input = new ConnectionInput(transport, true, null, 0, 0, () -> {});
        assertThat(input.readBytes(0)).isEmpty(); // nothing read yet: no buffer at all

        byte[] body = body(300);
        memory.feed(Arrays.copyOf(body, 150));
        assertThat(input.readBytes(100)).isEqualTo(Arrays.copyOf(body, 100)); // buffered
        CompletableFuture<byte[]> small = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(200); // 50 buffered, the rest to come
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead);
        memory.feed(Arrays.copyOfRange(body, 150, 300));
        assertThat(small.get(10, TimeUnit.SECONDS)).isEqualTo(Arrays.copyOfRange(body, 100, 300));
    }

    private static byte[] body(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return b;
    }
}
