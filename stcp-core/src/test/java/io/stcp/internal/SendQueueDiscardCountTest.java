package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a close or a slow consumer's disconnect discards is counted while the queue's lock is
 * still held. Counted after it (as it was), a second closer could find the queue closed, close the
 * connection, and have its end report the counts before the first closer added its own: at a
 * shutdown deadline, twice in 40 runs, {@code stats().discarded()} said 0 of five held replies.
 */
class SendQueueDiscardCountTest {
    private final List<String> told = new ArrayList<>();

    private SendQueue queue(OverflowPolicy policy) {
        SendQueue q = new SendQueue(new QueueLimits(3, 0, policy, 0, false, new DirectChunks(0)), null);
        q.countDiscardsIn(n -> told.add(n + (q.lock.isHeldByCurrentThread() ? " under the lock" : " after it")));
        return q;
    }

    @Test
    void aCloseCountsWhatItDiscardsUnderTheQueuesLock() throws Exception {
        SendQueue q = queue(OverflowPolicy.FAIL);
        for (int i = 0; i < 3; i++) {
            q.put(new byte[] {(byte) i}, false);
        }

        assertThat(q.close()).isEqualTo(3);
        assertThat(q.close()).as("closed already").isZero();

        assertThat(told).containsExactly("3 under the lock");
    }

    @Test
    void aSlowConsumersDisconnectCountsWhatItDiscardsUnderTheQueuesLock() throws Exception {
        SendQueue q = queue(OverflowPolicy.CLOSE_CONNECTION);
        for (int i = 0; i < 3; i++) {
            q.put(new byte[] {(byte) i}, false);
        }

        assertThatThrownBy(() -> q.put(new byte[] {3}, false)).isInstanceOf(SlowConsumerException.class);

        assertThat(told).containsExactly("3 under the lock");
        assertThat(q.isOpen()).isFalse();
    }

    @Test
    void anEmptyQueueClosedCountsNothing() {
        SendQueue q = queue(OverflowPolicy.FAIL);
        assertThat(q.close()).isZero();
        assertThat(told).isEmpty();
    }
}
