package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Test;

/**
 * A record header that announces more than TLS allows fails the read as soon as the header is in,
 * instead of the reader holding a buffer of that size while the peer trickles it (up to 64 KiB
 * for one record, until the frame timeout). One that announces the most TLS allows is waited for.
 */
class TlsOversizeRecordTest {
    private static final byte APPLICATION_DATA = 23;

    @Test
    void aHeaderAnnouncingMoreThanTlsAllowsFailsTheReadAtOnce() throws Exception {
        CompletableFuture<Integer> read = readAfterHeader(TlsTransport.MAX_RECORD_LENGTH + 1, true);
        assertThat(read).failsWithin(Duration.ofSeconds(10))
                .withThrowableOfType(ExecutionException.class)
                .havingCause().isInstanceOf(SSLException.class).withMessageContaining("announces");
    }

    @Test
    void aHeaderAnnouncingTheMostTlsAllowsIsWaitedFor() throws Exception {
        CompletableFuture<Integer> read = readAfterHeader(TlsTransport.MAX_RECORD_LENGTH, false);
        assertThat(read).as("ended by the pair's close, not by the header").isCompletedExceptionally();
    }

    /**
     * Sends the server a header announcing {@code length} bytes and one byte of it, and returns its
     * reader's read; if {@code settle}, that read may end on its own; else the read is waited for
     * until it waits for more, then the pair is closed.
     */
    private static CompletableFuture<Integer> readAfterHeader(int length, boolean settle) throws Exception {
        MemoryTransport serverSide = new MemoryTransport();
        ReadinessDouble socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_A_FULL_READ);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        CompletableFuture<Integer> read = new CompletableFuture<>();
        try (TlsMemoryPair pair = TlsMemoryPair.open(serverSide, socket, deadline)) {
            pair.stopPumpToServer();
            Thread.ofVirtual().start(() -> {
                try {
                    int n;
                    do { // 0: part of a record, which a reader reads on from
                        n = pair.server.read(new byte[64], 0, 64, deadline);
                    } while (n == 0);
                    read.complete(n);
                } catch (Throwable t) {
                    read.completeExceptionally(t);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.waiting);
            int waits = socket.waits;
            serverSide.feed(new byte[] {APPLICATION_DATA, 3, 3, (byte) (length >>> 8), (byte) length, 0});
            if (settle) {
                read.handle((n, t) -> null).get(10, TimeUnit.SECONDS);
            } else {
                await().atMost(Duration.ofSeconds(10)).until(() -> socket.waits > waits && socket.waiting);
                assertThat(read).isNotDone();
            }
        }
        read.handle((n, t) -> null).get(10, TimeUnit.SECONDS);
        return read;
    }
}
