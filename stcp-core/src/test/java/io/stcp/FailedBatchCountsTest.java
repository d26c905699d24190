package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.internal.ConnectionOpener;
import io.stcp.internal.DirectChunks;
import io.stcp.internal.ForwardingTransport;
import io.stcp.internal.MemoryTransport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A write that fails part of the way through a batch: the messages wholly written count as
 * written, the rest (the one cut in two included) as discarded. The same whether the send thread
 * joined the batch into one buffer (many small messages) or wrote it as a gathering write, of
 * arrays or of the direct chunks that large messages wait in; and those chunks go back to their pool.
 */
class FailedBatchCountsTest {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40_000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 9_000);
    private static final int MESSAGES = 40;
    private static final int WHOLE = 10;

    @ParameterizedTest(name = "{0}-byte messages")
    // A batch of 16 x 64 B fits one joined buffer, 16 x 300 B does not; 100,000 B wait in direct chunks.
    @ValueSource(ints = {64, 300, 100_000})
    void theMessagesBeforeTheFailureAreWrittenAndTheRestDiscarded(int size) throws Exception {
        MemoryTransport memory = new MemoryTransport();
        int budget = WHOLE * size + size / 2; // the write fails half-way through message 11
        Connection conn = ConnectionOpener.inMemory(new FailingAfter(memory, budget), PEER, LOCAL);
        DirectChunks pool = new DirectChunks(64L << 20);
        QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).directChunks(pool).build(conn);
        sender.holdWrites(); // queued until resumeWrites(); the send thread's first batch takes 16
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (int i = 0; i < MESSAGES; i++) {
            byte[] m = new byte[size];
            Arrays.fill(m, (byte) i);
            sender.put(m);
            sent.write(m);
        }
        sender.resumeWrites();

        await().atMost(Duration.ofSeconds(10))
                .until(() -> sender.stats().written() + sender.stats().discarded() == MESSAGES);
        assertThat(sender.stats().written()).isEqualTo(WHOLE);
        assertThat(sender.stats().discarded()).isEqualTo(MESSAGES - WHOLE);
        assertThat(memory.takeOutput()).isEqualTo(Arrays.copyOf(sent.toByteArray(), budget));
        assertThat(conn.isOpen()).isFalse();
        assertThat(sender.close()).as("discarded, reported once").isEqualTo(MESSAGES - WHOLE);
        assertThat(pool.memory().usedBytes()).as("every chunk given back").isZero();
        assertThat(pool.memory().heldBytes() > 0).as("held in chunks while queued").isEqualTo(size >= DirectChunks.CHUNK);
    }

    /** Passes the first {@code budget} bytes written to the memory transport, then fails as a reset would. */
    private static final class FailingAfter extends ForwardingTransport {
        private int budget;

        FailingAfter(MemoryTransport delegate, int budget) {
            super(delegate);
            this.budget = budget;
        }

        @Override
        public void write(ByteBuffer[] srcs, int off, int len, long deadlineNanos) throws IOException {
            for (int i = off; i < off + len; i++) {
                ByteBuffer src = srcs[i];
                int n = Math.min(src.remaining(), budget);
                delegate.write(new ByteBuffer[] {src.slice(src.position(), n)}, 0, 1, deadlineNanos);
                src.position(src.position() + n);
                budget -= n;
                if (src.hasRemaining()) {
                    throw new IOException("Connection reset by peer (test)");
                }
            }
        }

        @Override
        public String name() {
            return "failing";
        }
    }
}
