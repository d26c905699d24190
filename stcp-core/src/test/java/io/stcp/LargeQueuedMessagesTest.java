package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.internal.DirectChunks;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Large messages wait in the send queue in direct chunks while the pool has room, and as arrays
 * once it is spent: either way the peer gets every byte in order, and the chunks go back to the
 * pool whether the messages were written or lost with the connection.
 */
class LargeQueuedMessagesTest {
    private static final int SIZE = 300_000; // five chunks
    private static final long POOL = 4L << 20; // room for 13 such messages of the 60 below

    private static byte[] body(int i) {
        byte[] b = new byte[SIZE];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) (i * 31 + k);
        }
        return b;
    }

    @Test
    void largeRepliesArriveWholeAndInOrderFromChunksAndFromArrays() throws Exception {
        DirectChunks pool = new DirectChunks(POOL);
        int count = 60;
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < count; i++) {
                byte[] header = ByteBuffer.allocate(4).putInt(SIZE).array();
                if (i % 2 == 0) {
                    sender.put(Echo.frame(body(i)));
                } else {
                    sender.putParts(header, body(i));
                }
            }
        }, QueueSender.options().capacity(64).maxBytes(16L << 20).directChunks(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(new byte[0]);
            for (int i = 0; i < count; i++) {
                assertThat(client.readFrame()).as("message %d", i).isEqualTo(body(i));
            }
        } finally {
            Echo.stop(server);
        }
        assertThat(pool.chunksLent()).as("the pool was used").isPositive(); // not what it holds: trimmed after 200 ms in tests
        assertThat(pool.memory().heldBytes()).as("up to its limit").isLessThanOrEqualTo(POOL);
        assertThat(pool.memory().usedBytes()).as("every chunk given back").isZero();
    }

    @Test
    void chunksOfMessagesQueuedForAPeerThatResetsGoBackToThePool() throws Exception {
        DirectChunks pool = new DirectChunks(64L << 20);
        int count = 80; // 24 MB: far more than the sockets' buffers hold
        AtomicReference<QueueSender> queued = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < count; i++) {
                sender.put(Echo.frame(body(i)));
            }
            queued.set((QueueSender) sender);
            conn.readInt(); // until the peer is gone
        }, QueueSender.options().capacity(100).maxBytes(0).directChunks(pool)::build).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(new byte[0]);
            await().atMost(Duration.ofSeconds(20)).until(() -> queued.get() != null);
            QueueSender sender = queued.get();
            assertThat(sender.stats().pendingMessages()).as("the peer reads nothing").isPositive();
            assertThat(pool.memory().usedBytes()).isPositive();

            Socket s = client.socket();
            s.setSoLinger(true, 0); // a reset, not a close: what was queued cannot be written
            s.close();
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> sender.stats().written() + sender.stats().discarded() == count);
            assertThat(sender.stats().discarded()).isPositive();
            await().atMost(Duration.ofSeconds(20)).until(() -> pool.memory().usedBytes() == 0);
        } finally {
            Echo.stop(server);
        }
    }
}
