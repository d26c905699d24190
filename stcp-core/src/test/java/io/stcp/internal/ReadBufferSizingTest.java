package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How a connection sizes its pooled read buffer: small while the peer sends little, large once a
 * read fills a small one (so a 16 KiB frame costs one read), and never large while it waits for
 * the rest of a value.
 */
class ReadBufferSizingTest {
    private static final int BODY = 16 * 1024;

    private final MemoryTransport memory = new MemoryTransport();
    private final CountingTransport transport = new CountingTransport(memory);
    private final ConnectionInput input = new ConnectionInput(transport, true, null, 0, 0, () -> {});

    @Test
    void aPeerThatFillsASmallBufferIsReadThroughALargeOne() throws IOException {
        memory.feed(frame(1));
        assertThat(readFrame()).isEqualTo(body(1));
        int readsOfTheFirst = transport.reads;

        memory.feed(frame(2));
        assertThat(readFrame()).isEqualTo(body(2));

        assertThat(readsOfTheFirst).as("a 4 KiB read, then the rest").isEqualTo(2);
        assertThat(transport.reads - readsOfTheFirst).as("reads of the second frame").isEqualTo(1);
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.LARGE);
    }

    @Test
    void smallReadsGoBackToASmallBuffer() throws IOException {
        memory.feed(frame(1));
        readFrame();
        memory.feed(frame(2));
        readFrame();
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.LARGE);

        memory.feed(new byte[] {0, 0, 0, 7});   // one small read into the large buffer
        assertThat(input.readInt(true)).isEqualTo(7);
        memory.feed(new byte[] {0, 0, 0, 8});
        assertThat(input.readInt(true)).isEqualTo(8);

        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.SIZE);
    }

    @Test
    void aLargeBufferIsNotHeldWhileWaitingForTheRestOfAValue() throws Exception {
        memory.feed(frame(1));
        readFrame();
        memory.feed(Arrays.copyOf(frame(2), BODY + 6)); // the second frame, and 2 bytes of a third's header
        readFrame();
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.LARGE);

        CompletableFuture<Integer> header = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readInt(true);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead);
        assertThat(input.bufferCapacity()).as("while waiting with 2 bytes buffered").isEqualTo(ReadBuffers.SIZE);

        memory.feed(new byte[] {1, 2});
        assertThat(header.get(10, TimeUnit.SECONDS)).isEqualTo(0x0102);
    }

    @Test
    void noBufferIsHeldWhileTheRestOfAValueIsReadStraightIntoItsArray() throws Exception {
        memory.feed(frame(1)); // the next reads use a large buffer
        readFrame();
        memory.feed(Arrays.copyOf(frame(2), 4 + BODY / 2)); // half of the next frame, then nothing
        int length = input.readInt(true);

        CompletableFuture<byte[]> value = CompletableFuture.supplyAsync(() -> {
            try {
                return input.readBytes(length);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> transport.inRead && input.buffered() == 0);
        assertThat(input.bufferCapacity()).as("while waiting with nothing buffered").isZero();

        memory.feed(Arrays.copyOfRange(frame(2), 4 + BODY / 2, 4 + BODY));
        assertThat(value.get(10, TimeUnit.SECONDS)).isEqualTo(body(2));
    }

    private byte[] readFrame() throws IOException {
        int length = input.readInt(true);
        return input.readBytes(length);
    }

    private static byte[] body(int fill) {
        byte[] body = new byte[BODY];
        Arrays.fill(body, (byte) fill);
        return body;
    }

    private static byte[] frame(int fill) {
        return ByteBuffer.allocate(4 + BODY).putInt(BODY).put(body(fill)).array();
    }
}
