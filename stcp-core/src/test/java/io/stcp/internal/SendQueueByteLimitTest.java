package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Conflating puts against the byte limit (int keys, which add no bytes of their own): they fit the queue as it is after a wait, and one that can never fit is refused before anything is dropped. */
class SendQueueByteLimitTest {

    @RepeatedTest(10)
    void aKeyedPutThatWaitedUnderBlockNeverTakesTheQueuePastMaxBytes() throws Exception {
        SendQueue q = new SendQueue(
                new QueueLimits(0, 100, OverflowPolicy.BLOCK, TimeUnit.SECONDS.toNanos(2), true, new DirectChunks(0)), null);
        q.put(1, new byte[10], false);
        q.put(new byte[90], false); // 100 of 100 bytes
        Thread grower = Thread.ofVirtual().start(() -> {
            try {
                q.put(1, new byte[20], false); // needs 10 more bytes: waits
            } catch (io.stcp.QueueFullException e) {
                // after the others' puts it may never fit: it gives up at its block timeout
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        // Seen waiting well within its block timeout, however loaded the machine: with 500 ms, a
        // grower that gave up before the first poll (100 ms after the start) failed the await.
        Awaitility.await().pollDelay(java.time.Duration.ZERO).pollInterval(java.time.Duration.ofMillis(5))
                .until(() -> grower.getState() == Thread.State.WAITING || grower.getState() == Thread.State.TIMED_WAITING);
        Object[] batch = new Object[8];
        assertThat(q.drain(batch, Long.MAX_VALUE, 1024)).isEqualTo(2); // room for everyone: the grower wakes up
        // Meanwhile key 1 comes back small and other bytes arrive, before or after the grower re-checks.
        q.putAll(KeyedBatch.ofInt(java.util.List.of(new io.stcp.Sender.IntKeyed(1, new byte[1]),
                new io.stcp.Sender.IntKeyed(2, new byte[88]))), false);
        grower.join(TimeUnit.SECONDS.toMillis(20));
        assertThat(q.stats().pendingBytes()).isLessThanOrEqualTo(100);
    }

    @ParameterizedTest
    @EnumSource(OverflowPolicy.class)
    void aKeyedPutAboveMaxBytesIsRefusedWithoutDroppingWhenItsKeyIsQueuedSmaller(OverflowPolicy policy) throws Exception {
        SendQueue q = new SendQueue(new QueueLimits(0, 100, policy, 0, true, new DirectChunks(0)), null);
        q.put(1, new byte[60], false);
        q.put(2, new byte[30], false);
        assertThatThrownBy(() -> q.put(1, new byte[150], false)) // 90 more than key 1 holds, but alone above the limit
                .isInstanceOf(QueueFullException.class).hasMessageContaining("exceeds the sender's byte limit of 100");
        assertThat(q.stats().pendingMessages()).isEqualTo(2);
        assertThat(q.stats().pendingBytes()).isEqualTo(90);
        assertThat(q.stats().dropped()).isZero();
        assertThat(q.queuedUnder(1)).hasSize(60);
    }

    @Test
    void aFullQueueSaysWhichLimitTheRefusedPutWouldPass() throws Exception {
        SendQueue byBytes = new SendQueue(new QueueLimits(100, 100, OverflowPolicy.FAIL, 0, false, new DirectChunks(0)), null);
        byBytes.put(new byte[60], false);
        byBytes.put(new byte[30], false); // 2 of 100 messages, 90 of 100 bytes
        assertThatThrownBy(() -> byBytes.put(new byte[20], false))
                .isInstanceOf(QueueFullException.class)
                .hasMessage("send queue full (2 messages, 90 bytes; maxBytes 100, QueueSender.options().maxBytes)");

        SendQueue byCount = new SendQueue(new QueueLimits(2, 100, OverflowPolicy.FAIL, 0, false, new DirectChunks(0)), null);
        byCount.put(new byte[1], false);
        byCount.put(new byte[1], false);
        assertThatThrownBy(() -> byCount.put(new byte[1], false))
                .isInstanceOf(QueueFullException.class)
                .hasMessage("send queue full (2 messages, 2 bytes; capacity 2, QueueSender.options().capacity)");
    }

    @Test
    void aFanoutKeyedOfferAboveMaxBytesIsRefusedWithoutDroppingWhenItsKeyIsQueuedSmaller() throws Exception {
        SendQueue q = new SendQueue(new QueueLimits(0, 100, OverflowPolicy.DROP_OLDEST, 0, true, new DirectChunks(0)), null);
        q.put(7, new byte[60], false);
        q.put(8, new byte[30], false);
        assertThatThrownBy(() -> q.offer(7, new byte[150], false, System.nanoTime(), null))
                .isInstanceOf(QueueFullException.class).hasMessageContaining("exceeds the sender's byte limit of 100");
        assertThat(q.stats().pendingMessages()).isEqualTo(2);
        assertThat(q.stats().dropped()).isZero();
    }

    @Test
    void aPutWaitingUnderBlockIsWokenWhenAConflatedValueShrinksAndMakesItsRoom() throws Exception {
        SendQueue q = new SendQueue(
                new QueueLimits(0, 100, OverflowPolicy.BLOCK, TimeUnit.SECONDS.toNanos(60), true, new DirectChunks(0)), null);
        q.holdToken(); // nothing is written: only the shrink below can make room
        q.put(1, new byte[60], false);
        q.put(2, new byte[40], false); // 100 of 100 bytes
        Thread waiter = Thread.ofVirtual().start(() -> {
            try {
                q.put(3, new byte[30], false);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        Awaitility.await().until(() -> waiter.getState() == Thread.State.WAITING
                || waiter.getState() == Thread.State.TIMED_WAITING);
        q.put(1, new byte[10], false); // 50 bytes free now
        assertThat(waiter.join(java.time.Duration.ofSeconds(20))).as("the waiter took the room").isTrue();
        assertThat(q.stats().pendingBytes()).isEqualTo(80);
    }
}
