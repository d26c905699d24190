package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.StuckReplies;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A {@code shutdown(grace)} that comes after a {@code close()} reports what that close discarded,
 * as a client's does: under {@code runUntilSignal} a second signal (two SIGTERMs from a process
 * group kill, say) closes the server before the shutdown of the first has begun, and the shutdown
 * must not then say that everything accepted was written.
 */
class ShutdownAfterCloseTest {

    @Test
    void aShutdownAfterACloseThatDiscardedQueuedRepliesReturnsFalse() throws Exception {
        CountDownLatch queued = new CountDownLatch(1);
        TcpServer server = StuckReplies.start(queued);
        try (TestClient client = TestClient.connect(server.address())) { // never reads
            client.sendRaw(new byte[4]);
            assertThat(queued.await(10, TimeUnit.SECONDS)).isTrue();
            server.close(); // discards what is queued
            server.awaitTermination();
            assertThat(server.stats().discarded()).isPositive();
            assertThat(server.shutdown(Duration.ofSeconds(5))).isFalse();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aShutdownAfterACloseThatDiscardedNothingReturnsTrue() throws Exception {
        TcpServer server = Echo.start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip("hello".getBytes())).isEqualTo("hello".getBytes()); // nothing left queued
            server.close();
            server.awaitTermination();
            assertThat(server.stats().discarded()).isZero();
            assertThat(server.shutdown(Duration.ofSeconds(5))).isTrue();
        } finally {
            Echo.stop(server);
        }
    }
}
