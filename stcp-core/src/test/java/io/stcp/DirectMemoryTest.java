package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.internal.DirectChunks;
import io.stcp.testing.SocketPair;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@link QueueSender#directMemory()} shows the process-wide pool that large queued messages are
 * held in: what they hold while queued, that it goes back once they are written, and that the pool
 * frees it once it has stayed unused for the idle period (200 ms in the tests, see LeakCheck).
 */
class DirectMemoryTest {
    private static final int SIZE = 200_000; // four chunks

    @Test
    void largeQueuedMessagesShowAsUsedUntilWrittenAndTheChunksAreFreedOnceIdle() throws Exception {
        QueueSender.DirectMemory before = QueueSender.directMemory();
        assertThat(before.limitBytes()).as("the default, an eighth of the heap").isPositive();
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 3; i++) {
                sender.put(new byte[SIZE]);
            }

            QueueSender.DirectMemory queued = QueueSender.directMemory();
            assertThat(queued.usedBytes()).isEqualTo(before.usedBytes() + 3 * 4L * DirectChunks.CHUNK);
            assertThat(queued.heldBytes()).isGreaterThanOrEqualTo(queued.usedBytes());
            assertThat(queued.limitBytes()).isEqualTo(before.limitBytes());

            sender.resumeWrites();
            InputStream in = Channels.newInputStream(p.client);
            assertThat(in.readNBytes(3 * SIZE)).hasSize(3 * SIZE);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> QueueSender.directMemory().usedBytes() == before.usedBytes());
            sender.close();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                QueueSender.DirectMemory m = QueueSender.directMemory();
                return m.heldBytes() == m.usedBytes(); // no chunk kept unused
            });
            assertThat(QueueSender.directMemory().limitBytes()).isEqualTo(before.limitBytes());
        }
    }
}
