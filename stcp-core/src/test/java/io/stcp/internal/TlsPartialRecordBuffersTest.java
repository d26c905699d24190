package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * After the handshake, on a transport that tells readiness (where reads take four records at a
 * time), a peer that sends the first bytes of a record and stops makes the reader hold one
 * record's buffer while it waits for the rest, not four: memory follows what the peer sent. Once
 * the rest comes with more records behind it, reads take four records at a time again. Before,
 * the four-record buffer was held from the first byte to the frame timeout.
 */
class TlsPartialRecordBuffersTest {
    private static final int RECORDS = 4;
    private static final int PLAIN = 16 * 1024; // the most a record carries

    @Test
    void theWaitForTheRestOfARecordHoldsOneRecordsBuffer() throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        CompletableFuture<Integer> read = new CompletableFuture<>();
        try (TlsMemoryPair pair = TlsMemoryPair.open(serverSide, socket, deadline)) {
            TlsTransport server = pair.server;
            TlsTransport client = pair.client;
            MemoryTransport clientSide = pair.clientSide;
            pair.stopPumpToServer(); // the records go to the server by hand from here on
            client.write(new ByteBuffer[] {ByteBuffer.allocate(RECORDS * PLAIN)}, 0, 1, deadline);
            byte[] records = clientSide.takeOutput();
            assertThat(records.length).as("%d full records", RECORDS).isGreaterThan(RECORDS * PLAIN);

            Thread.ofVirtual().start(() -> {
                try {
                    byte[] b = new byte[RECORDS * PLAIN];
                    int got = 0;
                    while (got < b.length) {
                        int n = server.read(b, got, b.length - got, deadline);
                        if (n < 0) {
                            throw new EOFException();
                        }
                        got += n;
                    }
                    read.complete(got);
                } catch (Throwable t) {
                    read.completeExceptionally(t);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.waiting);
            int waits = socket.waits;
            int first = 6; // a record's header and a byte of it
            serverSide.feed(Arrays.copyOf(records, first));
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.waits > waits && socket.waiting);
            assertThat(server.readBufferCapacity()).as("the encrypted input's, %d bytes of a record in", first)
                    .isGreaterThan(0).isLessThanOrEqualTo(TlsBuffers.RECORD);
            assertThat(read).isNotDone();

            serverSide.feed(Arrays.copyOfRange(records, first, records.length));
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(RECORDS * PLAIN);
            assertThat(server.readBufferCapacity()).as("the encrypted input's, once the records came at once")
                    .isEqualTo(TlsBuffers.BULK);
        } finally {
            read.handle((n, t) -> null).get(10, TimeUnit.SECONDS);
        }
    }
}
