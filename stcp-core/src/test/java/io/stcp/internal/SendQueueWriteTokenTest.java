package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import org.junit.jupiter.api.Test;

/**
 * The queue's write token as a put sees it: {@link SendQueue#writeUnderWay()} is true exactly
 * while someone holds it (a drainer, or an inline writer), so that a put may skip asking the socket
 * whether more input waits when an inline write could not be claimed anyway.
 */
class SendQueueWriteTokenTest {
    private final SendQueue queue =
            new SendQueue(new QueueLimits(16, 0, OverflowPolicy.FAIL, 0, false, new DirectChunks(0)), null);

    @Test
    void aDrainerHoldsTheTokenUntilItFindsTheQueueEmpty() throws Exception {
        assertThat(queue.writeUnderWay()).isFalse();
        assertThat(queue.put(new byte[1], false)).as("the first put takes the token for a drainer").isTrue();
        assertThat(queue.writeUnderWay()).isTrue();
        assertThat(queue.tryClaimInline()).as("no inline write while a drainer holds the token").isFalse();
        assertThat(queue.put(new byte[1], false)).as("a later put starts no second drainer").isFalse();

        Object[] batch = new Object[4];
        assertThat(queue.drain(batch, Long.MAX_VALUE, 4)).isEqualTo(2);
        assertThat(queue.writeUnderWay()).as("still writing that batch").isTrue();
        assertThat(queue.drain(batch, Long.MAX_VALUE, 4)).as("empty: the token goes back").isZero();
        assertThat(queue.writeUnderWay()).isFalse();
    }

    @Test
    void anInlineWriterHoldsTheTokenUntilItGivesItBack() {
        assertThat(queue.tryClaimInline()).isTrue();
        assertThat(queue.writeUnderWay()).isTrue();
        assertThat(queue.releaseInline()).as("nothing queued behind it").isFalse();
        assertThat(queue.writeUnderWay()).isFalse();
    }
}
