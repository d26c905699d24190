package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How a connection sizes its pooled read buffer: small while the peer sends little, wide once a
 * read fills a small one (so a 16 KiB frame costs one read, and a turn's replies one write), large
 * when no wide one is free, and never wide or large while it waits for the rest of a few bytes.
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
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.WIDE);
    }

    @Test
    void aStreamingPeerIsReadAWideBufferAtATime() throws IOException {
        int frames = 2 * ReadBuffers.WIDE / (4 + BODY);
        ByteBuffer all = ByteBuffer.allocate(frames * (4 + BODY));
        for (int i = 1; i <= frames; i++) {
            all.put(frame(i));
        }
        memory.feed(all.array()); // as it stands in the socket: a read takes as much as the buffer holds
        assertThat(readFrame()).isEqualTo(body(1));
        int readsBefore = transport.reads;
        for (int i = 2; i <= frames; i++) {
            assertThat(readFrame()).isEqualTo(body(i));
        }
        assertThat(transport.reads - readsBefore).as("reads of %d frames of %d bytes", frames - 1, 4 + BODY)
                .isLessThanOrEqualTo((frames - 1) * (4 + BODY) / ReadBuffers.WIDE + 2);
    }

    @Test
    void withEveryWideBufferTakenAPeerThatFillsASmallBufferIsReadThroughALargeOne() throws IOException {
        List<byte[]> taken = new ArrayList<>();
        try {
            for (byte[] b; (b = ReadBuffers.takeWide()) != null; ) {
                taken.add(b);
            }
            memory.feed(frame(1));
            readFrame();
            memory.feed(frame(2));
            assertThat(readFrame()).isEqualTo(body(2));
            assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.LARGE);
        } finally {
            taken.forEach(ReadBuffers::give);
        }
    }

    @Test
    void aWideBufferIsNotHeldWhileWaitingForTheRestOfAValue() throws Exception {
        memory.feed(frame(1));
        readFrame();
        memory.feed(frame(2));
        memory.feed(Arrays.copyOf(frame(3), 4 + BODY / 2)); // half of the third, then nothing
        readFrame();
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.WIDE);
        int length = input.readInt(true);

        input.awaitInput(length); // as a reader of a value read straight from the socket waits for it
        assertThat(input.bufferCapacity()).as("waiting with half a frame buffered").isEqualTo(ReadBuffers.LARGE);

        memory.feed(Arrays.copyOfRange(frame(3), 4 + BODY / 2, 4 + BODY));
        assertThat(input.readBytes(length)).isEqualTo(body(3));
    }

    @AfterEach
    void end() {
        input.ended();
    }

    @Test
    void smallReadsGoBackToASmallBuffer() throws IOException {
        memory.feed(frame(1));
        readFrame();
        memory.feed(frame(2));
        readFrame();
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.WIDE);

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
        assertThat(input.bufferCapacity()).isEqualTo(ReadBuffers.WIDE);

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

    @Test
    void noWideBufferIsHeldWhileWaitingForTheNextFrameAfterAReadThatFilledTheBuffer() throws Exception {
        ReadinessDouble readiness = new ReadinessDouble(memory, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        ConnectionInput in = new ConnectionInput(readiness, true, null, 0, 0, () -> {});
        try {
            int body = ReadBuffers.SIZE - 4; // the frame fills the first, small, buffer: the next reads go wide
            memory.feed(ByteBuffer.allocate(4 + body).putInt(body).put(new byte[body]).array());
            assertThat(in.readBytes(in.readInt(true))).hasSize(body);
            assertThat(in.prepareSuspension()).as("between frames, as the read loop asks").isNotNegative();

            CompletableFuture<Integer> next = CompletableFuture.supplyAsync(() -> { // the peer is idle now
                try {
                    return in.readInt(true);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> readiness.waiting);
            assertThat(in.bufferCapacity()).as("waiting for a peer that sends nothing, with nothing buffered").isZero();

            memory.feed(new byte[] {0, 0, 0, 9});
            assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo(9);
        } finally {
            in.ended();
        }
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
