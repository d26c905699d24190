package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.TestCerts;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A peer that trickles its ClientHello makes the server hold no more than one record's buffer for
 * it while the rest is waited for (on a transport that tells readiness, where reads after the
 * handshake take four records at a time): no buffer for decrypted bytes, which handshake messages
 * do not have, and no four-record one. Before, 68 + 17 KiB from its first byte to the handshake
 * timeout.
 */
class TlsHandshakeBuffersTest {

    @Test
    void aTrickledClientHelloHoldsAtMostOneRecordsBuffer() throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_ANY_READ);
        byte[] hello = TestCerts.get().clientHello();
        CompletableFuture<Void> handshake = new CompletableFuture<>();
        TlsTransport server = MemoryPump.serverShakingHands(socket, handshake);
        try {
            int from = 0;
            for (int cut : new int[] {1, 3, 6, hello.length / 2}) {
                int waits = socket.waits;
                serverSide.feed(Arrays.copyOfRange(hello, from, cut));
                from = cut;
                await().atMost(Duration.ofSeconds(10)).until(() -> socket.waits > waits && socket.waiting);
                assertThat(server.readBufferCapacity()).as("the encrypted input's, %d bytes in", cut)
                        .isLessThanOrEqualTo(TlsBuffers.RECORD);
                assertThat(server.appBufferCapacity()).as("the decrypted input's, %d bytes in", cut).isZero();
            }
            assertThat(handshake).isNotDone();
        } finally {
            server.close();
            serverSide.close();
            try {
                handshake.get(10, TimeUnit.SECONDS);
            } catch (Exception endedByTheClose) {
                // expected: the handshake cannot finish
            }
        }
    }
}
