package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.Sender.IntKeyed;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A put under DROP_OLDEST that finds the server's outbound budget spent by other queues drops the
 * fewest of its own queue's oldest messages that make room for it: a byte dropped is one the budget
 * gets back while the queue holds charged bytes, and one the put need not charge within the
 * queue's slack. It stopped once its queue held no charged bytes, and failed where one more drop
 * would have let it in; and it drops nothing when even an empty queue would not fit the put. What
 * the drops give back — charged bytes, a slack permit — is the put's: no other queue's put can take
 * it between the drop and the put, which then had dropped its messages for nothing.
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
        other.put(new byte[(int) OutboundBudget.FREE_BYTES], false);
        other.put(new byte[(int) (LIMIT - leftBytes)], false); // above a permit's slack: charged beyond the free bytes
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
        fill(q, 7); // 70 KiB, within a slack permit's slack: nothing charged
        q.put(new byte[20 * KIB], false); // above that slack it would need its 86 KiB above the free bytes charged
        assertThat(q.stats().dropped()).as("one 10 KiB message dropped").isEqualTo(1);
        assertThat(q.stats().pendingBytes()).isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
    }

    @Test
    void aQueueDropsPastItsChargedBytesWhileThatMakesRoom() throws SlowConsumerException {
        spendBudgetBut(100 * KIB);
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        fill(q, 10); // 100 KiB, above a permit's slack: 96 charged, 4 left
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - 4 * KIB);
        assertThat(q.slackBytes()).as("the permit given back").isEqualTo(OutboundBudget.FREE_BYTES);
        // 30 KiB more: each drop gives back 10 KiB charged, the third enough for the put
        q.put(new byte[30 * KIB], false);
        assertThat(q.stats().dropped()).isEqualTo(3);
        assertThat(q.stats().pendingBytes()).isEqualTo(100 * KIB);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - 4 * KIB);
    }

    @Test
    void nothingIsDroppedForAPutThatAnEmptyQueueWouldNotFit() throws SlowConsumerException {
        spendBudgetBut(100 * KIB);
        SendQueue q = queue(OverflowPolicy.DROP_OLDEST);
        fill(q, 10); // 96 KiB charged, 4 left
        // 200 KiB needs 196 above the free bytes: the 96 this queue holds charged and the 4 left would not do
        assertThatThrownBy(() -> q.put(new byte[200 * KIB], false)).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("outbound budget");
        assertThat(q.stats().dropped()).isZero();
        assertThat(q.stats().pendingBytes()).isEqualTo(100 * KIB);
    }

    /**
     * A keyed put whose key's value is among the oldest: dropping that value frees nothing for the
     * put, which then appends its value anew with the key. The old code counted the drop as making
     * room for the put's growth alone (80 KiB within the queue's slack permit), dropped the value,
     * and the put, now 90 KiB with 86 to charge, was refused: the key's last value gone for nothing.
     */
    @Test
    void aKeyedPutDropsNothingWhenOnlyItsOwnKeysValueWouldGo() throws SlowConsumerException {
        spendBudgetBut(0);
        SendQueue q = queues.queue(OverflowPolicy.DROP_OLDEST, true);
        q.put(1, new byte[10 * KIB], false);
        assertThat(q.slackBytes()).as("within a permit's slack").isEqualTo(SLACK);
        // 90 KiB under key 1, its 10 KiB queued or not: 86 above the free bytes to charge, none left
        assertThatThrownBy(() -> q.put(1, new byte[90 * KIB], false)).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("outbound budget");
        assertThat(q.stats().dropped()).as("nothing dropped").isZero();
        assertThat(q.stats().pendingBytes()).isEqualTo(10 * KIB);
        assertThat(q.slackBytes()).isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
    }

    /** {@link #aKeyedPutDropsNothingWhenOnlyItsOwnKeysValueWouldGo} for a batch: a key of the batch dropped frees nothing for it. */
    @Test
    void aBatchDropsNothingWhenOnlyItsOwnKeysValuesWouldGo() throws SlowConsumerException {
        spendBudgetBut(0);
        SendQueue q = queues.queue(OverflowPolicy.DROP_OLDEST, true);
        q.put(1, new byte[10 * KIB], false);
        q.put(2, new byte[10 * KIB], false);
        KeyedBatch batch = KeyedBatch.ofInt(List.of(new IntKeyed(1, new byte[50 * KIB]), new IntKeyed(2, new byte[40 * KIB])));
        assertThatThrownBy(() -> q.putAll(batch, false)).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("outbound budget");
        assertThat(q.stats().dropped()).as("nothing dropped").isZero();
        assertThat(q.stats().pendingBytes()).isEqualTo(20 * KIB);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
    }

    /**
     * The race the old code lost: the drop gave the queue's slack permit back (it fell to its free
     * bytes), another queue's put took it, and the put that dropped, looking again, found none and
     * no room to charge: refused, its oldest message dropped for nothing. Made to happen every time:
     * the dropped message's key holds the dropping thread as the queue forgets it, while the test
     * takes the budget's lock, on which the old code's return of the permit then blocks (to wake
     * the put waiting for the budget) after the permit is free; another queue's put takes it then.
     * Now the drop and the put take their share of the budget in one step before anything is
     * dropped: the permit stays the put's, and the other queue's put is refused.
     */
    @Test
    void theRoomADropFreesIsThePutsThatDropped() throws Exception {
        HeldKey key = new HeldKey();
        SendQueue q = queues.queue(OverflowPolicy.DROP_OLDEST, true);
        q.put(key, new byte[70 * KIB], false);
        assertThat(q.slackBytes()).as("a permit taken").isEqualTo(SLACK);
        queue(OverflowPolicy.FAIL).put(new byte[60 * KIB], false); // the other permit
        spendBudgetBut(0);
        SendQueue other = queue(OverflowPolicy.FAIL);
        SendQueue waitingQueue = queue(OverflowPolicy.FAIL);
        CompletableFuture<Object> waiting = BudgetedQueues.putOnItsOwnThread(waitingQueue, 100 * KIB, true);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);

        key.hold();
        // 90 KiB would need 86 charged; one drop lets the put in within the permit's slack
        CompletableFuture<Object> put = BudgetedQueues.putOnItsOwnThread(q, 20 * KIB, false);
        Thread dropping = key.awaitHeld();
        ReentrantLock budgetLock = budgetLock();
        budgetLock.lock();
        try {
            key.release();
            Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> put.isDone() || budgetLock.hasQueuedThread(dropping));
            try {
                other.put(new byte[16 * KIB], false);
            } catch (QueueFullException refused) {
                // no permit free, no room: the drop's permit is the put's
            }
        } finally {
            budgetLock.unlock();
        }
        assertThat(put.get(10, TimeUnit.SECONDS)).as("the put that dropped").isEqualTo(Boolean.TRUE);
        assertThat(q.stats().dropped()).isEqualTo(1);
        assertThat(q.stats().pendingBytes()).isEqualTo(20 * KIB);
        assertThat(q.slackBytes()).as("it kept its permit").isEqualTo(SLACK);
        assertThat(other.slackBytes()).isEqualTo(OutboundBudget.FREE_BYTES);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        waitingQueue.close();
        assertThat(waiting.get(10, TimeUnit.SECONDS)).isInstanceOf(io.stcp.SenderClosedException.class);
    }

    private ReentrantLock budgetLock() throws ReflectiveOperationException {
        Field lock = OutboundBudget.class.getDeclaredField("lock");
        lock.setAccessible(true);
        return (ReentrantLock) lock.get(budget);
    }

    /** A key whose next hash, once {@link #hold} is called, holds the thread that asks until {@link #release}. */
    private static final class HeldKey {
        private final CountDownLatch held = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile boolean holding;
        private volatile Thread holder;

        void hold() {
            holding = true;
        }

        Thread awaitHeld() throws InterruptedException {
            assertThat(held.await(10, TimeUnit.SECONDS)).as("the key's hash asked for").isTrue();
            return holder;
        }

        void release() {
            released.countDown();
        }

        @Override
        public int hashCode() {
            if (holding) {
                holding = false;
                holder = Thread.currentThread();
                held.countDown();
                try {
                    if (!released.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            return 1;
        }

        @Override
        public boolean equals(Object o) {
            return o == this;
        }
    }
}
