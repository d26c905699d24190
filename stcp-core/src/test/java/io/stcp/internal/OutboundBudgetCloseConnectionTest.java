package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A put under CLOSE_CONNECTION that finds the server's outbound budget spent closes its connection
 * only if its own queue holds more than {@link OutboundBudget#SLACK_BYTES}: a slow consumer, one
 * of those filling the budget. A queue holding a few KiB that was charged only because every slack
 * permit was taken is not one, and its put fails as under FAIL (with the permits, a queue of just
 * over 4 KiB was closed: a healthy subscriber's push disconnected it while others held the
 * permits). Send queues of in-memory connections sharing one budget; nobody drains but the test.
 */
class OutboundBudgetCloseConnectionTest {
    private static final int KIB = 1 << 10;
    private static final long LIMIT = 400 * KIB; // two slack permits

    private final BudgetedQueues queues = new BudgetedQueues(LIMIT);
    private final OutboundBudget budget = queues.budget;

    @AfterEach
    void closeQueues() {
        queues.closeAll();
        assertThat(budget.chargedBytes()).as("all given back").isZero();
        assertThat(budget.slackPermitsHeld()).as("every permit given back").isZero();
    }

    private SendQueue queue(OverflowPolicy policy) {
        return queues.queue(policy);
    }

    /** Other queues take both slack permits and charge the budget all but {@code leftBytes}. */
    private void spendPermitsAndBudgetBut(long leftBytes) throws SlowConsumerException {
        assertThat(budget.slackPermits()).isEqualTo(2);
        for (int i = 0; i < 2; i++) {
            queue(OverflowPolicy.FAIL).put(new byte[10 * KIB], false);
        }
        assertThat(budget.slackPermitsHeld()).isEqualTo(2);
        queue(OverflowPolicy.FAIL).put(new byte[(int) (OutboundBudget.FREE_BYTES + LIMIT - leftBytes)], false);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - leftBytes);
    }

    @Test
    void aQueueChargedForWantOfAPermitIsNotClosed() throws SlowConsumerException {
        spendPermitsAndBudgetBut(6 * KIB);
        SendQueue q = queue(OverflowPolicy.CLOSE_CONNECTION);
        q.put(new byte[10 * KIB], false); // no permit left: 6 KiB above the free 4 charged, the budget spent
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);

        assertThatThrownBy(() -> q.put(new byte[KIB], false))
                .isInstanceOf(QueueFullException.class).hasMessageContaining("outbound budget");
        assertThat(q.isOpen()).as("a queue of 10 KiB is no slow consumer").isTrue();
        assertThat(q.stats().pendingBytes()).isEqualTo(10 * KIB);
    }

    @Test
    void aQueueHoldingMoreThanAPermitsSlackIsClosed() throws SlowConsumerException {
        spendPermitsAndBudgetBut(100 * KIB);
        SendQueue q = queue(OverflowPolicy.CLOSE_CONNECTION);
        for (int i = 0; i < 9; i++) {
            q.put(new byte[10 * KIB], false); // 90 KiB: 86 charged, 14 left
        }
        assertThatThrownBy(() -> q.put(new byte[20 * KIB], false)).isInstanceOf(SlowConsumerException.class);
        assertThat(q.isOpen()).isFalse();
        assertThat(budget.chargedBytes()).as("its charge given back at the close").isEqualTo(LIMIT - 100 * KIB);
    }
}
