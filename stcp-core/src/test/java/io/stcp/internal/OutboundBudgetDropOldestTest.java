package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A put under DROP_OLDEST that finds the server's outbound budget spent by other queues drops its
 * own queue's oldest messages while that can make room for it: a byte dropped is one the budget
 * gets back while the queue holds charged bytes, and one the put need not charge within the
 * queue's slack. It stopped once its queue held no charged bytes, and failed where one more drop
 * would have let it in; and it drops nothing when even an empty queue would not fit the put.
 * Send queues of in-memory connections sharing one budget; nobody drains but the test.
 */
class OutboundBudgetDropOldestTest {
    private static final int KIB = 1 << 10;
    private static final long SLACK = OutboundBudget.SLACK_BYTES;
    private static final long LIMIT = 400 * KIB;

    private final BudgetedQueues queues = new BudgetedQueues(LIMIT);
    private final OutboundBudget budget = queues.budget;

    @AfterEach
    void closeQueues() {
        queues.closeAll();
        assertThat(budget.chargedBytes()).as("all given back").isZero();
    }

    private SendQueue queue(OverflowPolicy policy) {
        return queues.queue(policy);
    }

    /** Another queue charges the budget all but {@code leftBytes}. */
    private void spendBudgetBut(long leftBytes) throws SlowConsumerException {
        SendQueue other = queue(OverflowPolicy.FAIL);
        other.put(new byte[(int) SLACK], false);
        other.put(new byte[(int) (LIMIT - leftBytes)], false);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - leftBytes);
    }

    /** {@code q} gets {@code n} messages of 10 KiB. */
    private static void fill(SendQueue q, int n) throws SlowConsumerException {
        for (int i = 0; i < n; i++) {
            q.put(new byte[10 * KIB], false);
        }
    }

    @Test
    void aQueueWithinItsSlackDropsItsOwnOldestForAPutTheBudgetRefuses() throws SlowConsumerException {
        spendBudgetBut(0);
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        fill(q, 7); // 70 KiB, within the slack: nothing charged
        q.put(new byte[20 * KIB], false); // needs 10 KiB above the slack, which the budget has not
        assertThat(q.stats().dropped()).as("one 10 KiB message dropped").isEqualTo(1);
        assertThat(q.stats().pendingBytes()).isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
    }

    @Test
    void aQueueDropsPastItsChargedBytesWhileThatMakesRoom() throws SlowConsumerException {
        spendBudgetBut(20 * KIB);
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        fill(q, 10); // 100 KiB: 20 charged, the budget full
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        // 30 KiB more: two drops give back the 20 charged, a third makes the put need only 20
        q.put(new byte[30 * KIB], false);
        assertThat(q.stats().dropped()).isEqualTo(3);
        assertThat(q.stats().pendingBytes()).isEqualTo(100 * KIB);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
    }

    @Test
    void nothingIsDroppedForAPutThatAnEmptyQueueWouldNotFit() throws SlowConsumerException {
        spendBudgetBut(20 * KIB);
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        fill(q, 10); // 20 KiB charged
        // 200 KiB needs 120 above the slack: the 20 this queue holds would not do
        assertThatThrownBy(() -> q.put(new byte[200 * KIB], false)).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("outbound budget");
        assertThat(q.stats().dropped()).isZero();
        assertThat(q.stats().pendingBytes()).isEqualTo(100 * KIB);
    }
}
