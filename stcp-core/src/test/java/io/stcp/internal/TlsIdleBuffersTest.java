package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Over TLS on a transport that tells readiness, a reader that waits for its peer holds no read
 * buffer of its own (a wide one, after a frame that filled the small one): not while its peer is
 * idle — even when the last read left the socket only "maybe readable" (it took all it was
 * offered): the read that finds the socket empty does not wait, and the wait that follows is
 * without the buffers — and not while the peer sends a record a few bytes at a time: the reads
 * take what is there, and the waits for the rest are without the reader's buffer (the encrypted
 * input holds the part of the record, in one record's buffer, not in the four records' a read
 * takes). Before, the TLS layer waited inside a read, holding both; and then, the four records'.
 */
class TlsIdleBuffersTest {
    private final long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
    private MemoryTransport serverSide;
    private ReadinessDouble socket;
    private TlsMemoryPair pair;
    private TlsTransport server;
    private TlsTransport client;
    private ConnectionInput in;

    @BeforeEach
    void aWideFrameReadOverTls() throws Exception {
        serverSide = new MemoryTransport();
        socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_ANY_READ);
        pair = TlsMemoryPair.open(serverSide, socket, deadline);
        server = pair.server;
        client = pair.client;
        in = new ConnectionInput(server, true, null, 0, 0, () -> {});

        int body = ReadBuffers.SIZE - 4; // the frame fills the first, small, buffer: the next reads go wide
        write(client, ByteBuffer.allocate(4 + body).putInt(body).put(new byte[body]).array());
        assertThat(in.readBytes(in.readInt(true))).hasSize(body);
        assertThat(in.prepareSuspension()).as("between frames, as the read loop asks").isNotNegative();
    }

    @AfterEach
    void end() throws Exception {
        in.ended();
        pair.close();
    }

    @Test
    void aTlsReaderWaitsForItsIdlePeerWithoutBuffersAfterAReadThatMayHaveLeftInput() throws Exception {
        CompletableFuture<Integer> next = nextInt(); // the peer is idle now
        await().atMost(Duration.ofSeconds(10)).until(() -> socket.waiting);
        assertThat(in.bufferCapacity()).as("the reader's buffer, while its peer sends nothing").isZero();
        assertThat(server.readBufferCapacity()).as("the encrypted input's, meanwhile").isZero();

        write(client, new byte[] {0, 0, 0, 9});
        assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo(9);
    }

    @Test
    void aTlsReaderWaitsForTheRestOfARecordWithoutABufferOfItsOwn() throws Exception {
        pair.stopPumpToServer(); // the record goes to the server by hand from here on, a few bytes at a time
        write(client, new byte[] {0, 0, 0, 9});
        byte[] record = pair.clientSide.takeOutput(1, TimeUnit.SECONDS.toNanos(10));
        record = concat(record, pair.clientSide.takeOutput());
        assertThat(record.length).as("one record: a header, the frame and the tag").isGreaterThan(12);

        CompletableFuture<Integer> next = nextInt();
        int[] cuts = {6, 9, 12, record.length};
        int from = 0;
        for (int cut : cuts) {
            int waits = socket.waits;
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.waiting || next.isDone());
            assertThat(next).as("the record is not whole before byte %d", from).isNotDone();
            assertThat(in.bufferCapacity()).as("the reader's buffer, with %d bytes of the record in", from).isZero();
            assertThat(server.readBufferCapacity()).as("the encrypted input's, with %d bytes of the record in", from)
                    .isLessThanOrEqualTo(TlsBuffers.RECORD);
            serverSide.feed(Arrays.copyOfRange(record, from, cut));
            from = cut;
            if (cut < record.length) {
                await().atMost(Duration.ofSeconds(10)).until(() -> socket.waits > waits && socket.waiting || next.isDone());
            }
        }
        assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo(9);
    }

    private CompletableFuture<Integer> nextInt() {
        CompletableFuture<Integer> next = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                next.complete(in.readInt(true));
            } catch (Throwable t) {
                next.completeExceptionally(t);
            }
        });
        return next;
    }

    private void write(TlsTransport t, byte[] bytes) throws IOException {
        t.write(new ByteBuffer[] {ByteBuffer.wrap(bytes)}, 0, 1, deadline);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
