package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * TLS 1.2's answering {@code close_notify} reaches the peer when a write under way wraps it: the
 * reader, which read the peer's {@code close_notify} while the write held the output, left the
 * answer to it, and the engine gave it to the write's next wrap (which says CLOSED). Before, the
 * write threw without writing what that wrap had produced, and the engine, done, had no other copy:
 * the peer never got its answer.
 */
class TlsCloseNotifyAnswerTest {

    @Test
    void theAnsweringCloseNotifyThatAWriteUnderWayWrapsGoesOut() throws Exception {
        TestCerts certs = TestCerts.get();
        MemoryTransport serverSide = new MemoryTransport();
        WriteWatch socket = new WriteWatch(serverSide);
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        CompletableFuture<Void> write = new CompletableFuture<>();
        try (TlsMemoryPair pair = TlsMemoryPair.open(
                TlsConfig.builder().pem(certs.serverCert, certs.serverKey).protocols("TLSv1.2").build(), serverSide, socket, 0,
                deadline)) {
            TlsTransport server = pair.server;
            TlsTransport client = pair.client;

            serverSide.stallWrites(true);
            int writes = socket.writes;
            Thread.ofVirtual().start(() -> {
                try {
                    server.write(new ByteBuffer[] {ByteBuffer.allocate(256 * 1024)}, 0, 1, deadline);
                    write.complete(null);
                } catch (Throwable t) {
                    write.completeExceptionally(t);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.writes > writes); // its first records wait, the output held
            client.shutdownOutput(); // close_notify
            byte[] b = new byte[64];
            assertThat(server.read(b, 0, b.length, deadline)).as("the peer's close_notify, its answer left to the write").isEqualTo(-1);
            serverSide.stallWrites(false);
            assertThatThrownBy(() -> write.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(ClosedChannelException.class);

            // The peer reads the records the write sent, then the answering close_notify: the end
            // (without it, the read would wait for it until its deadline).
            long readDeadline = Nanos.deadlineAfter(Duration.ofSeconds(10));
            byte[] sink = new byte[64 * 1024];
            long received = 0;
            int n;
            while ((n = client.read(sink, 0, sink.length, readDeadline)) >= 0) {
                received += n;
            }
            assertThat(received).as("the write's first records").isPositive();
        } finally {
            write.handle((v, t) -> null).get(10, TimeUnit.SECONDS);
        }
    }

    /** Counts the writes begun on the socket below. */
    private static final class WriteWatch extends ForwardingTransport {
        volatile int writes;

        WriteWatch(MemoryTransport delegate) {
            super(delegate);
        }

        @Override
        public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
            writes++; // one writer at a time: the output's lock holder
            super.write(srcs, off, len, deadlineNanos);
        }

        @Override
        public String name() {
            return "watched";
        }
    }
}
