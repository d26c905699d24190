package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader that keeps finding input gives way to other connections once every
 * {@link ConnectionInput#TURN_BYTES} bytes ({@link Transport#giveWay}); one that waits for its
 * input in between never does.
 */
class GiveWayTest {
    private static final int FRAME = 16 * 1024;

    private final MemoryTransport memory = new MemoryTransport();
    private final GiveWayCounter transport = new GiveWayCounter(memory);
    private final ConnectionInput input = new ConnectionInput(transport, true, null, 0, 0, () -> {});

    {
        transport.input = input;
    }

    /** Counts give-ways, with the bytes read before each; readable while the memory holds bytes, as a native transport tells. */
    private static final class GiveWayCounter extends ForwardingTransport {
        final List<Long> readAtGiveWay = new ArrayList<>();
        final List<Integer> bufferAtGiveWay = new ArrayList<>();
        final List<Boolean> awaitingAtGiveWay = new ArrayList<>();
        ConnectionInput input;
        long read;
        boolean holds; // as a layer holding decrypted bytes would say
        volatile int emptyReads; // reads that found nothing there, and so wait: the reader looked at its readiness before

        GiveWayCounter(MemoryTransport delegate) {
            super(delegate);
        }

        @Override
        public int read(byte[] b, int off, int len, long deadlineNanos) throws IOException {
            if (delegate.available() == 0) {
                emptyReads++; // reader thread only
            }
            int n = super.read(b, off, len, deadlineNanos);
            read += Math.max(n, 0);
            return n;
        }

        @Override
        public boolean isReadable() {
            return delegate.available() > 0;
        }

        @Override
        public boolean holdsInput() {
            return holds;
        }

        @Override
        public void giveWay(long deadlineNanos) {
            readAtGiveWay.add(read);
            bufferAtGiveWay.add(input.bufferCapacity());
            awaitingAtGiveWay.add(input.isAwaitingInput());
        }

        @Override
        public String name() {
            return "give-way counter";
        }
    }

    @AfterEach
    void endInput() {
        input.ended(); // its wide buffer, if it took one, back to the pool
    }

    @Test
    void aReaderThatNeverWaitsGivesWayOnceATurn() throws IOException {
        int frames = 4 * ConnectionInput.TURN_BYTES / FRAME + 8; // four turns and a half
        for (int i = 0; i < frames; i++) {
            memory.feed(new byte[FRAME]); // all there before the reader reads: it never waits
        }
        readFrames(frames);

        assertThat(transport.readAtGiveWay).as("bytes read when it gave way").hasSize(4);
        long before = 0;
        for (long at : transport.readAtGiveWay) {
            assertThat(at - before).as("bytes read in a turn").isBetween((long) ConnectionInput.TURN_BYTES,
                    (long) ConnectionInput.TURN_BYTES + ReadBuffers.LARGE);
            before = at;
        }
    }

    /**
     * A give-way may wait for input (on epoll, when the socket has none: {@link Transport#giveWay}),
     * so it is a wait for input to whoever looks: a graceful shutdown, which ends at once a reader
     * waiting between requests, and a graceful close, which lingers only for a reader that is not
     * waiting. Unmarked, a reader idle in a give-way was taken for one busy in a request.
     */
    @Test
    void aReaderGivingWayIsSeenAwaitingInput() throws IOException {
        int frames = 2 * ConnectionInput.TURN_BYTES / FRAME + 8;
        for (int i = 0; i < frames; i++) {
            memory.feed(new byte[FRAME]);
        }
        readFrames(frames);

        assertThat(transport.awaitingAtGiveWay).as("awaiting input at each give-way").hasSize(2).containsOnly(true);
        assertThat(input.isAwaitingInput()).as("once it has read on").isFalse();
    }

    @Test
    void aReaderGivesWayWithoutItsWideBuffer() throws IOException {
        int body = FRAME - 100; // frames that end off the turns' boundaries
        int frames = 3 * ConnectionInput.TURN_BYTES / body;
        byte[] frame = ByteBuffer.allocate(4 + body).putInt(body).array();
        for (int i = 0; i < frames; i++) {
            memory.feed(frame);
        }
        for (int i = 0; i < frames; i++) {
            assertThat(input.readBytes(input.readInt(true))).hasSize(body); // from the read buffer
        }

        assertThat(transport.readAtGiveWay).hasSizeGreaterThanOrEqualTo(2);
        assertThat(transport.bufferAtGiveWay).as("the read buffer held while it gave way")
                .allSatisfy(size -> assertThat(size).isLessThanOrEqualTo(ReadBuffers.SIZE));
    }

    @Test
    void aReaderThatWaitsForItsInputNeverGivesWay() throws Exception {
        int frames = 4 * ConnectionInput.TURN_BYTES / FRAME;
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<?> reader = executor.submit(() -> {
                readFrames(frames);
                return null;
            });
            for (int i = 0; i < frames; i++) {
                // Not input.isAwaitingInput(): set just before the reader looks whether the transport
                // is readable, so a frame fed as soon as it was seen was read without a wait at times.
                int waits = i + 1;
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                        .until(() -> transport.emptyReads == waits || reader.isDone());
                memory.feed(new byte[FRAME]); // one frame each time the reader has found nothing to read
            }
            reader.get(10, TimeUnit.SECONDS);
        }

        assertThat(transport.readAtGiveWay).isEmpty();
        assertThat(input.bytesRead()).isEqualTo((long) frames * FRAME);
    }

    @Test
    void aValueReadStraightIntoTheCallersArrayCountsToo() throws IOException {
        byte[] value = new byte[2 * ConnectionInput.TURN_BYTES];
        memory.feed(value);
        memory.feed(new byte[FRAME]);

        input.readFully(value, 0, value.length); // reads of a buffer's size or more go to the array itself
        readFrames(1);

        assertThat(transport.readAtGiveWay).hasSize(1);
    }

    @Test
    void aTransportHoldingInputOfItsOwnIsAskedAgainAtTheNextRead() throws IOException {
        int frames = ConnectionInput.TURN_BYTES / FRAME + 8;
        for (int i = 0; i < frames; i++) {
            memory.feed(new byte[FRAME]);
        }
        transport.holds = true;
        readFrames(frames - 4);
        assertThat(transport.readAtGiveWay).as("while it holds input").isEmpty();

        transport.holds = false;
        readFrames(4);
        assertThat(transport.readAtGiveWay).hasSize(1);
    }

    private void readFrames(int n) throws IOException {
        byte[] frame = new byte[FRAME];
        for (int i = 0; i < n; i++) {
            input.readFully(frame, 0, FRAME);
        }
    }
}
