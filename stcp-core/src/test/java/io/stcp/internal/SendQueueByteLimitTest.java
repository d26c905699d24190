package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;

/** A conflating put that waits for room must fit the queue as it is after the wait, not as it was before. */
class SendQueueByteLimitTest {

    @RepeatedTest(10)
    void aKeyedPutThatWaitedUnderBlockNeverTakesTheQueuePastMaxBytes() throws Exception {
        SendQueue q = new SendQueue(
                new QueueLimits(0, 100, OverflowPolicy.BLOCK, TimeUnit.MILLISECONDS.toNanos(500), true, new DirectChunks(0)), null);
        q.put("a", new byte[10], false);
        q.put(new byte[90], false); // 100 of 100 bytes
        Thread grower = Thread.ofVirtual().start(() -> {
            try {
                q.put("a", new byte[20], false); // needs 10 more bytes: waits
            } catch (io.stcp.QueueFullException e) {
                // after the others' puts it may never fit: it gives up at its block timeout
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        Awaitility.await().until(() -> grower.getState() == Thread.State.WAITING
                || grower.getState() == Thread.State.TIMED_WAITING);
        Object[] batch = new Object[8];
        assertThat(q.drain(batch, Long.MAX_VALUE, 1024)).isEqualTo(2); // room for everyone: the grower wakes up
        // Meanwhile "a" comes back small and other bytes arrive, before or after the grower re-checks.
        q.putAll(KeyedBatch.ofString(java.util.List.of(new io.stcp.Sender.StringKeyed("a", new byte[1]),
                new io.stcp.Sender.StringKeyed("b", new byte[88]))), false);
        grower.join(TimeUnit.SECONDS.toMillis(20));
        assertThat(q.stats().pendingBytes()).isLessThanOrEqualTo(100);
    }
}
