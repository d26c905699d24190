package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A TLS reader that gives way ({@link Transport#giveWay}: its peer kept it busy for a turn,
 * {@link ConnectionInput#TURN_BYTES} read without a wait) holds of its layer's encrypted input, for
 * the give-way's wait, only the part of a record it has not decrypted, in a buffer of its size,
 * or none, as one waiting for room for a put does ({@link TlsPutWaitBuffersTest}). Before, it kept
 * the buffer its reads take — four records, 68 KiB, on a transport that tells readiness, one
 * record's on the JDK's — for the wait: at the peak of 1,000 TLS peers pipelining 40,000-byte
 * frames that never read, 358 readers of a 256 MiB epoll server waited there with theirs. The
 * stream still reads whole and in order, the bytes parked at each give-way included, and every
 * pooled buffer taken is given back once.
 *
 * <p>On memory transports, as {@link TlsParkBetweenReadsTest}: the give-way's wait on a real
 * socket is a poller's report (epoll) or a microsecond's park (the JDK's), too short to look at
 * from another thread; here the transport below records what the layer holds as the give-way
 * reaches it, and the client's records are all there before the reader begins, so it never waits
 * for input and gives way once a turn.
 */
class TlsGiveWayBuffersTest {
    private static final int FRAME = 40_004;
    private static final int FRAMES = 100; // about 4 MB: some fifteen turns

    @ParameterizedTest(name = "readiness: {0}")
    @ValueSource(booleans = {true, false})
    void aTlsReaderGivingWayHoldsOnlyThePartOfARecordItHasNotDecrypted(boolean readiness) throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        GiveWayLook socket = new GiveWayLook(readiness
                ? new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ) : serverSide);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(60));
        long taken = TlsBuffers.takenCount();
        long given = TlsBuffers.givenCount();
        try (TlsMemoryPair pair = TlsMemoryPair.open(serverSide, socket, deadline)) {
            pair.stopPumpToServer();
            for (int i = 0; i < FRAMES; i++) {
                byte[] frame = ByteBuffer.allocate(FRAME).putInt(FRAME - 4).array();
                Arrays.fill(frame, 4, FRAME, (byte) i);
                pair.client.write(new ByteBuffer[] {ByteBuffer.wrap(frame)}, 0, 1, deadline);
            }
            serverSide.feed(pair.clientSide.takeOutput()); // all of it there before the reader reads
            socket.tls = pair.server;
            ConnectionInput input = new ConnectionInput(pair.server, true, null, 0, 0, () -> {});
            try {
                for (int i = 0; i < FRAMES; i++) {
                    assertThat(input.readBytes(input.readInt(true))).as("frame %s", i).hasSize(FRAME - 4)
                            .containsOnly((byte) i);
                }
            } finally {
                input.ended(); // the layer's buffers too
                pair.client.releaseBuffers();
            }
        }
        assertThat(socket.seen).as("give-ways").hasSizeGreaterThanOrEqualTo(FRAMES * FRAME / ConnectionInput.TURN_BYTES - 2);
        assertThat(socket.seen).as("a give-way with part of a record held").anySatisfy(s -> assertThat(s[0]).isPositive());
        for (int[] s : socket.seen) {
            assertThat(s[1]).as("encrypted input's buffer as the reader gives way, %s bytes not decrypted (the old"
                    + " code: the one its reads take, of %s or %s bytes)", s[0], TlsBuffers.BULK, TlsBuffers.RECORD)
                    .isEqualTo(s[0]);
        }
        assertThat(TlsBuffers.givenCount() - given).as("pooled buffers given back")
                .isEqualTo(TlsBuffers.takenCount() - taken);
    }

    /**
     * The server's socket: passes every call to the transport below, and at each give-way notes
     * the TLS layer's encrypted bytes held and their buffer's size (0 for none). Reader thread only.
     */
    private static final class GiveWayLook extends OverTransport {
        final List<int[]> seen = new ArrayList<>();
        TlsTransport tls;

        GiveWayLook(Transport under) {
            super(under);
        }

        @Override
        public void giveWay(long deadlineNanos) throws IOException {
            if (tls != null) {
                seen.add(new int[] {tls.encryptedHeld(), tls.readBufferCapacity()});
            }
            super.giveWay(deadlineNanos);
        }
    }
}
