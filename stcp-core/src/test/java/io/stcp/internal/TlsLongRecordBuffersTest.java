package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer that sends all but the last byte of a record as long as the server's header check lets
 * through ({@link TlsTransport#MAX_RECORD_LENGTH}: TLS 1.2 allows 16 KiB of data plus 2,048, more
 * than one record's buffer of {@link TlsBuffers#RECORD} bytes holds) makes the server hold a buffer
 * of that record's size while it waits for the last byte — during the handshake and after it, on a
 * transport that tells readiness (the epoll transport's way, whose reads take four records at a
 * time) and on one whose reads block (the JDK transport's). Before, the wait held the four
 * records' buffer (68 KiB) after the handshake on a readiness transport, and a buffer doubled to
 * 34 KiB otherwise: 2,000 such peers held 147 MB of an epoll server's heap where the peers that
 * send the first bytes of an ordinary record held 45.
 */
class TlsLongRecordBuffersTest {
    private static final int LONGEST = 5 + TlsTransport.MAX_RECORD_LENGTH; // header included
    private static final byte HANDSHAKE = 22;
    private static final byte APPLICATION_DATA = 23;

    @ParameterizedTest(name = "readiness: {0}")
    @ValueSource(booleans = {true, false})
    void theRestOfALongRecordAfterTheHandshakeIsAwaitedInABufferOfItsSize(boolean readiness) throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble readinessSocket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        CompletableFuture<Integer> read = new CompletableFuture<>();
        try (TlsMemoryPair pair = TlsMemoryPair.open(serverSide, readiness ? readinessSocket : serverSide, deadline)) {
            pair.stopPumpToServer(); // the record goes to the server by hand
            TlsTransport server = pair.server;
            Thread.ofVirtual().start(() -> {
                try {
                    int n;
                    do {
                        n = server.read(new byte[100], 0, 100, deadline); // 0: a record without data
                    } while (n == 0);
                    read.complete(n);
                } catch (Throwable t) {
                    read.completeExceptionally(t);
                }
            });
            if (readiness) {
                await().atMost(Duration.ofSeconds(10)).until(() -> readinessSocket.waiting);
            }
            int waits = readinessSocket.waits;
            serverSide.feed(allButTheLastByte(APPLICATION_DATA));
            awaitTheRest(readiness, readinessSocket, waits, serverSide);
            assertThat(server.readBufferCapacity()).as("the encrypted input's, all but a byte of the longest record in")
                    .isEqualTo(LONGEST);
            assertThat(read).isNotDone();
        } finally {
            read.handle((n, t) -> null).get(10, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest(name = "readiness: {0}")
    @ValueSource(booleans = {true, false})
    void theRestOfALongHandshakeRecordIsAwaitedInABufferOfItsSize(boolean readiness) throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble readinessSocket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        CompletableFuture<Void> handshake = new CompletableFuture<>();
        TlsTransport server = MemoryPump.serverShakingHands(readiness ? readinessSocket : serverSide, handshake);
        try {
            if (readiness) {
                await().atMost(Duration.ofSeconds(10)).until(() -> readinessSocket.waiting);
            }
            int waits = readinessSocket.waits;
            serverSide.feed(allButTheLastByte(HANDSHAKE));
            awaitTheRest(readiness, readinessSocket, waits, serverSide);
            assertThat(server.readBufferCapacity()).as("the encrypted input's, all but a byte of the longest record in")
                    .isEqualTo(LONGEST);
            assertThat(handshake).isNotDone();
        } finally {
            server.close();
            serverSide.close();
            handshake.handle((v, t) -> null).get(10, TimeUnit.SECONDS); // ended by the close
        }
    }

    /** A record header of {@code type} announcing the most the server lets through, and all of its body but a byte. */
    private static byte[] allButTheLastByte(byte type) {
        ByteBuffer b = ByteBuffer.allocate(LONGEST - 1);
        b.put(type).putShort((short) 0x0303).putShort((short) TlsTransport.MAX_RECORD_LENGTH);
        return b.array(); // the body: zeros, never decrypted (its last byte does not come)
    }

    /** Until the server has taken all it was fed and waits for more: on a readiness transport, in its wait; else in the read. */
    private static void awaitTheRest(boolean readiness, ReadinessDouble readinessSocket, int waits, MemoryTransport serverSide) {
        if (readiness) {
            await().atMost(Duration.ofSeconds(10)).until(() -> readinessSocket.waits > waits && readinessSocket.waiting);
        } else {
            await().atMost(Duration.ofSeconds(10)).until(() -> serverSide.available() == 0);
        }
    }
}
