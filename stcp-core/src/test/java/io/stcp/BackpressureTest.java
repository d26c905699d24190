package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.SocketPair;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Overflow policies against a consumer that does not read. */
class BackpressureTest {

    private static byte[] numbered(int i, int size) {
        return ByteBuffer.allocate(size).putInt(i).array();
    }

    @Test
    void failFastIsTheDefault() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[1]);
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(QueueFullException.class);
            sender.close();
        }
    }

    @Test
    void blockWaitsForRoomAndSucceedsWhenTheConsumerCatchesUp() throws Exception {
        blockWaitsForRoom(Duration.ofSeconds(10));
    }

    /** Longer than a {@code nanoTime} difference can count (about 73 years): a wait without a limit, not none. */
    @Test
    void aBlockTimeoutBeyondWhatNanoTimeCountsWaitsWithoutALimit() throws Exception {
        blockWaitsForRoom(ChronoUnit.FOREVER.getDuration());
        blockWaitsForRoom(Duration.ofDays(365L * 100));
    }

    private static void blockWaitsForRoom(Duration blockTimeout) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                    .blockTimeout(blockTimeout).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(numbered(1, 4));
            CountDownLatch blocked = new CountDownLatch(1);
            AtomicReference<Throwable> result = new AtomicReference<>();
            Thread producer = Thread.ofVirtual().start(() -> {
                blocked.countDown();
                try {
                    sender.put(numbered(2, 4));
                } catch (Throwable t) {
                    result.set(t);
                }
            });
            assertThat(blocked.await(5, TimeUnit.SECONDS)).isTrue();
            org.awaitility.Awaitility.await().until(() -> producer.getState() == Thread.State.WAITING
                    || producer.getState() == Thread.State.TIMED_WAITING);
            assertThat(producer.isAlive()).isTrue();
            sender.resumeWrites(); // the queue is written from now on
            producer.join(10_000);
            assertThat(result.get()).isNull();
            ByteBuffer in = ByteBuffer.allocate(8);
            while (in.hasRemaining()) {
                p.client.read(in);
            }
            assertThat(in.flip().getInt()).isEqualTo(1);
            assertThat(in.getInt()).isEqualTo(2);
            sender.close();
        }
    }

    @Test
    void blockGivesUpAfterItsTimeout() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                    .blockTimeout(Duration.ofMillis(50)).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[1]);
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(QueueFullException.class);
            assertThat(sender.stats().rejected()).isEqualTo(1);
            sender.close();
        }
    }

    /** The README's default: a put under BLOCK waits 1 s for room, never less, then fails. */
    @Test
    void blockWaitsOneSecondByDefault() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[1]);
            long start = System.nanoTime();
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(QueueFullException.class);
            Duration waited = Duration.ofNanos(System.nanoTime() - start);
            assertThat(waited).isGreaterThanOrEqualTo(Duration.ofSeconds(1)).isLessThan(Duration.ofSeconds(20));
            sender.close();
        }
    }

    @Test
    void aBlockedProducerIsReleasedByCloseWithTheClosedError() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                    .blockTimeout(Duration.ofSeconds(30)).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[1]);
            AtomicReference<Throwable> result = new AtomicReference<>();
            Thread producer = Thread.ofVirtual().start(() -> {
                try {
                    sender.put(new byte[1]);
                } catch (Throwable t) {
                    result.set(t);
                }
            });
            org.awaitility.Awaitility.await().until(() -> producer.getState() == Thread.State.TIMED_WAITING);
            sender.close();
            producer.join(10_000);
            assertThat(result.get()).isInstanceOf(SenderClosedException.class);
        }
    }

    @Test
    void dropOldestKeepsTheNewestAndCountsWhatItDropped() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(3).overflow(OverflowPolicy.DROP_OLDEST).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 1; i <= 10; i++) {
                sender.put(numbered(i, 4));
                assertThat(sender.stats().pendingMessages()).isLessThanOrEqualTo(3);
            }
            assertThat(sender.stats().dropped()).isEqualTo(7);
            sender.resumeWrites(); // the queue is written from now on
            ByteBuffer in = ByteBuffer.allocate(12);
            while (in.hasRemaining()) {
                p.client.read(in);
            }
            in.flip();
            assertThat(new int[] {in.getInt(), in.getInt(), in.getInt()}).containsExactly(8, 9, 10);
            sender.close();
        }
    }

    @Test
    void closeConnectionDisconnectsTheSlowConsumer() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(2).overflow(OverflowPolicy.CLOSE_CONNECTION)
                    .build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(new byte[1]);
            sender.put(new byte[1]);
            assertThatThrownBy(() -> sender.put(new byte[1])).isInstanceOf(QueueFullException.class)
                    .hasMessage("slow consumer: send queue full (2 messages, 2 bytes; capacity 2,"
                            + " QueueSender.options().capacity), connection closed");
            assertThat(sender.isClosed()).isTrue();
            assertThat(p.server.isOpen()).isFalse();
            assertThat(sender.stats().discarded()).isEqualTo(2);
            assertThat(p.client.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        }
    }

    @Test
    void aByteLimitBoundsQueuedBytesAloneOrWithAMessageLimit() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender bytesOnly = QueueSender.options().unbounded().maxBytes(1000).build(p.server);
            bytesOnly.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 10; i++) {
                bytesOnly.put(new byte[100]);
            }
            assertThatThrownBy(() -> bytesOnly.put(new byte[1])).isInstanceOf(QueueFullException.class);
            assertThat(bytesOnly.stats().pendingBytes()).isEqualTo(1000);
            bytesOnly.close();
        }
        try (SocketPair p = SocketPair.open()) {
            QueueSender both = QueueSender.options().capacity(5).maxBytes(1000).overflow(OverflowPolicy.DROP_OLDEST)
                    .build(p.server);
            both.holdWrites(); // queued, not written, until resumeWrites()
            for (int i = 0; i < 100; i++) {
                both.put(new byte[i * 7 % 300 + 1]);
                assertThat(both.stats().pendingBytes()).isLessThanOrEqualTo(1000);
                assertThat(both.stats().pendingMessages()).isLessThanOrEqualTo(5);
            }
            both.close();
        }
    }

    @Test
    void aMessageLargerThanTheByteLimitIsRejectedWhateverThePolicy() throws Exception {
        for (OverflowPolicy policy : OverflowPolicy.values()) {
            try (SocketPair p = SocketPair.open()) {
                QueueSender sender = QueueSender.options().maxBytes(100).overflow(policy).build(p.server);
                sender.holdWrites(); // queued, not written, until resumeWrites()
                assertThatThrownBy(() -> sender.put(new byte[101])).as(policy.name())
                        .isInstanceOf(QueueFullException.class).hasMessageContaining("byte limit");
                assertThat(sender.isClosed()).as(policy.name()).isFalse();
                sender.close();
            }
        }
    }

    @Test
    void conflatingSendersHonourThePoliciesToo() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(2).conflating(true)
                    .overflow(OverflowPolicy.DROP_OLDEST).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            sender.put(1, new byte[] {1});
            sender.put(2, new byte[] {2});
            sender.put(3, new byte[] {3}); // drops key 1
            sender.put(1, new byte[] {4}); // key 1 is gone: appended, drops key 2
            assertThat(sender.stats().dropped()).isEqualTo(2);
            assertThat(sender.stats().conflated()).isZero();
            sender.put(3, new byte[] {5}); // still queued: replaced
            assertThat(sender.stats().conflated()).isEqualTo(1);
            assertThat(sender.close()).isEqualTo(2);
        }
    }
}
