package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Replies lent from a reader's read buffer ({@link SendQueue#putLent}): queued only while the write
 * token is the reader's (it owes the drain) or free (taken for it), never behind someone else's
 * drain, which could write them after the buffer changed; and counted until they leave the queue
 * by any way — drained, dropped or discarded — so that the reader knows when none is left.
 */
class SendQueueLentTest {
    private static SendQueue queue(int capacity, OverflowPolicy policy) {
        return new SendQueue(new QueueLimits(capacity, 0, policy, 0, false, new DirectChunks(0)), null);
    }

    private static ByteBuffer reply(int length) {
        return ByteBuffer.wrap(new byte[length + 8], 8, length);
    }

    @Test
    void aFreeTokenIsTakenForTheReaderAndItsOwnTokenKeepsIt() throws Exception {
        SendQueue queue = queue(16, OverflowPolicy.FAIL);

        assertThat(queue.putLent(reply(10), false)).isEqualTo(SendQueue.QUEUED_START_DRAINER);
        assertThat(queue.writeUnderWay()).isTrue();
        assertThat(queue.putLent(reply(20), true)).as("the reader owes the drain now").isEqualTo(SendQueue.QUEUED);

        assertThat(queue.holdsLent()).isTrue();
        assertThat(queue.stats().pendingBytes()).isEqualTo(30);
    }

    @Test
    void nothingIsLentBehindSomeoneElsesToken() throws Exception {
        SendQueue queue = queue(16, OverflowPolicy.FAIL);
        assertThat(queue.put(new byte[1], false)).as("a drainer's token").isTrue();

        assertThat(queue.putLent(reply(10), false)).isEqualTo(SendQueue.NOT_LENT);

        assertThat(queue.holdsLent()).isFalse();
        assertThat(queue.queuedCount()).isEqualTo(1);
    }

    @Test
    void drainedLentRepliesAreTheBuffersThemselvesAndLeaveTheCount() throws Exception {
        SendQueue queue = queue(16, OverflowPolicy.FAIL);
        ByteBuffer first = reply(10);
        queue.putLent(first, false);
        queue.put(new byte[3], false);
        queue.putLent(reply(5), true);

        Object[] batch = new Object[2];
        assertThat(queue.drain(batch, Long.MAX_VALUE, 16)).isEqualTo(2);
        assertThat(batch[0]).isSameAs(first);
        assertThat(queue.holdsLent()).as("one still queued").isTrue();
        assertThat(queue.drain(batch, Long.MAX_VALUE, 16)).isEqualTo(1);
        assertThat(queue.holdsLent()).isFalse();
    }

    @Test
    void droppedAndDiscardedLentRepliesLeaveTheCount() throws Exception {
        SendQueue queue = queue(1, OverflowPolicy.DROP_OLDEST);
        queue.putLent(reply(10), false);
        queue.put(new byte[1], false); // drops the lent reply
        assertThat(queue.holdsLent()).isFalse();
        assertThat(queue.stats().dropped()).isEqualTo(1);

        queue.drain(new Object[1], Long.MAX_VALUE, 16);
        queue.putLent(reply(10), true);
        assertThat(queue.holdsLent()).isTrue();
        assertThat(queue.close()).isEqualTo(1);
        assertThat(queue.holdsLent()).isFalse();
    }

    @Test
    void aLentReplyThatDoesNotFitIsNotLentButCopiedAndPutAsAnyOther() {
        SendQueue queue = new SendQueue(new QueueLimits(16, 8, OverflowPolicy.FAIL, 0, false, new DirectChunks(0)), null);

        assertThat(queue.putLent(reply(10), false)).isEqualTo(SendQueue.NOT_LENT);
        assertThat(queue.queuedCount()).isZero();
        assertThat(queue.holdsLent()).isFalse();
        assertThat(queue.writeUnderWay()).isFalse();
    }
}
