package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.QueueFullException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client's offline queue: its limits bound what it holds together with what a hand-over took
 * and has not handed on, so a hand-over that stalls and breaks cannot leave it over its limits.
 */
class OfflineQueueTest {

    @Test
    void whatAHandOverTookCountsUntilItIsHandedOn() {
        OfflineQueue q = new OfflineQueue(3, 0);
        q.add(null, new byte[] {1});
        q.add(null, new byte[] {2});
        q.add(null, new byte[] {3});

        List<OfflineQueue.Entry> batch = q.takeAll(); // the hand-over to a new connection stalls
        assertThat(q.isEmpty()).isTrue();
        assertThatThrownBy(() -> q.add(null, new byte[] {4})).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("3 of them being handed to a new connection");

        q.handedOn(batch.get(0)); // its sender accepted the first
        q.add(null, new byte[] {4});
        assertThatThrownBy(() -> q.add(null, new byte[] {5})).isInstanceOf(QueueFullException.class);

        q.putBack(batch.subList(1, 3)); // the connection broke: the rest goes back, in front
        assertThat(q.takeAll()).extracting(e -> e.bytes()[0]).containsExactly((byte) 2, (byte) 3, (byte) 4);
    }

    @Test
    void aStalledHandOverThatBreaksOverAndOverNeverPassesTheLimits() {
        OfflineQueue q = new OfflineQueue(100, 1_000);
        for (int reconnection = 0; reconnection < 5; reconnection++) {
            fill(q);
            List<OfflineQueue.Entry> batch = q.takeAll();
            fill(q); // a steady producer while the hand-over waits for room
            q.putBack(batch);
            assertThat(heldBytes(q)).isLessThanOrEqualTo(1_000);
        }
    }

    @Test
    void theByteLimitCountsATakenBatchToo() {
        OfflineQueue q = new OfflineQueue(10, 12);
        q.add("k", new byte[6]); // 8 bytes with its key
        List<OfflineQueue.Entry> batch = q.takeAll();
        assertThatThrownBy(() -> q.add(null, new byte[5])).isInstanceOf(QueueFullException.class);
        q.add(null, new byte[4]);
        q.handedOn(batch.get(0));
        q.add(null, new byte[6]);
    }

    /**
     * A message larger than the whole byte limit can never be kept: the refusal says so, as a
     * sender's does, not that the (empty) queue is full.
     */
    @Test
    void aMessageLargerThanTheByteLimitIsRefusedAsSuchNotAsAFullQueue() {
        OfflineQueue q = new OfflineQueue(10, 100);
        assertThatThrownBy(() -> q.add(null, new byte[101])).isInstanceOf(QueueFullException.class)
                .hasMessage("message of 101 bytes exceeds the offline queue's byte limit of 100"
                        + " (ClientConfig.offlineQueue(10, 100))");
        q.add(null, new byte[100]); // the limit itself fits
        assertThatThrownBy(() -> q.add(null, new byte[1])).isInstanceOf(QueueFullException.class)
                .hasMessageStartingWith("offline queue full (1 messages, 100 bytes");
    }

    /**
     * A String key counts two bytes a char with its message: keys a peer chose cannot hold more
     * than the byte limit, even with 1-byte values; and what an entry counted, key included, comes
     * back when it is handed on, put back or cleared.
     */
    @Test
    void keysCountAgainstTheByteLimit() {
        OfflineQueue q = new OfflineQueue(100, 1_000);
        assertThatThrownBy(() -> q.add("k".repeat(500), new byte[1])).isInstanceOf(QueueFullException.class)
                .hasMessage("message of 1 bytes with a key counted as 1000 exceeds the offline queue's byte limit of 1000"
                        + " (ClientConfig.offlineQueue(100, 1000))");
        q.add("a".repeat(200), new byte[1]);
        q.add("b".repeat(200), new byte[1]);
        q.add(7, new byte[1]); // an int key counts nothing
        assertThatThrownBy(() -> q.add("c".repeat(200), new byte[1])).isInstanceOf(QueueFullException.class)
                .hasMessageStartingWith("offline queue full (3 messages, 803 bytes");

        List<OfflineQueue.Entry> batch = q.takeAll();
        assertThatThrownBy(() -> q.add("c".repeat(200), new byte[1])).isInstanceOf(QueueFullException.class);
        q.handedOn(batch.get(0));
        q.putBack(batch.subList(1, 3));
        q.add("c".repeat(200), new byte[1]); // the first one's 401 bytes came back
        assertThatThrownBy(() -> q.add(null, new byte[200])).isInstanceOf(QueueFullException.class)
                .hasMessageStartingWith("offline queue full (3 messages, 803 bytes");
        assertThat(q.clear()).isEqualTo(3);
        q.add("d".repeat(499), new byte[2]); // the whole limit again
    }

    /** Adds 10-byte messages until the queue refuses one. */
    private static void fill(OfflineQueue q) {
        try {
            while (true) {
                q.add(null, new byte[10]);
            }
        } catch (QueueFullException full) {
            // full
        }
    }

    private static long heldBytes(OfflineQueue q) {
        List<OfflineQueue.Entry> all = q.takeAll();
        long n = all.stream().mapToLong(e -> e.bytes().length).sum();
        q.putBack(all);
        return n;
    }
}
