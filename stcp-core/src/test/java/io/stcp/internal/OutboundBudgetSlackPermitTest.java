package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Who holds the outbound budget's slack permits, and whom a permit given back wakes. A queue whose
 * peer does not read rises above a permit's slack: it gives its permit back then, charged all its
 * bytes above the free ones, and takes none again until it falls to them; the old code let it keep
 * its permit until the write timeout ended its connection, so that such peers held every permit
 * and a healthy queue's 16 KiB reply was charged, waiting for a budget those peers had filled. A
 * permit given back wakes one put a permit would let in, no other; the old code woke every put
 * waiting for the budget at each one. Send queues of in-memory connections sharing one budget;
 * nobody drains but the test.
 */
class OutboundBudgetSlackPermitTest {
    private static final int KIB = 1 << 10;
    private static final long FREE = OutboundBudget.FREE_BYTES;
    private static final long SLACK = OutboundBudget.SLACK_BYTES;
    private static final long LIMIT = 400 * KIB; // two slack permits

    private final BudgetedQueues queues = new BudgetedQueues(LIMIT);
    private final OutboundBudget budget = queues.budget;
    private final List<Thread> threads = new ArrayList<>();
    private final List<CompletableFuture<Object>> puts = new ArrayList<>();

    @AfterEach
    void closeQueues() throws Exception {
        queues.closeAll();
        CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS); // closed, every put ends
        for (Thread t : threads) {
            t.join(10_000);
            assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
        }
        assertThat(budget.chargedBytes()).as("all given back").isZero();
        assertThat(budget.slackPermitsHeld()).as("every permit given back").isZero();
        assertThat(budget.waiters()).isZero();
    }

    private SendQueue queue() {
        return queues.queue(OverflowPolicy.FAIL);
    }

    @Test
    void queuesOfPeersThatNeverReadGiveTheirPermitsBackToAHealthyQueue() throws Exception {
        List<SendQueue> neverRead = List.of(queue(), queue());
        for (SendQueue q : neverRead) {
            q.put(new byte[60 * KIB], false);
            assertThat(q.slackBytes()).as("a permit taken").isEqualTo(SLACK);
        }
        assertThat(budget.slackPermitsHeld()).isEqualTo(2);
        for (SendQueue q : neverRead) {
            q.put(new byte[40 * KIB], false); // 100 KiB: above a permit's slack
            assertThat(q.slackBytes()).as("the permit given back").isEqualTo(FREE);
        }
        assertThat(budget.chargedBytes()).as("all their bytes above the free ones").isEqualTo(2 * (100 * KIB - FREE));
        assertThat(budget.slackPermitsHeld()).isZero();

        SendQueue healthy = queue();
        healthy.put(new byte[16 * KIB], false);
        assertThat(healthy.slackBytes()).as("a 16 KiB reply gets a permit (the old code: none left)").isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).as("and is not charged").isEqualTo(2 * (100 * KIB - FREE));
    }

    @Test
    void aQueueThatRoseAboveThePermitsSlackTakesNoneUntilItFallsToItsFreeBytes() throws Exception {
        SendQueue slow = queue();
        slow.put(new byte[60 * KIB], false);
        slow.put(new byte[40 * KIB], false);
        assertThat(slow.slackBytes()).isEqualTo(FREE);
        assertThat(slow.drain(new Object[1], Long.MAX_VALUE, 64)).isEqualTo(1);
        assertThat(slow.releaseInline()).as("40 KiB queued behind the 60 written").isTrue();
        slow.put(new byte[10 * KIB], false); // 50 KiB, within a permit's slack: still charged
        assertThat(slow.slackBytes()).isEqualTo(FREE);
        assertThat(budget.chargedBytes()).isEqualTo(50 * KIB - FREE);
        assertThat(budget.slackPermitsHeld()).isZero();

        assertThat(slow.drain(new Object[2], Long.MAX_VALUE, 64)).isEqualTo(2);
        assertThat(slow.releaseInline()).isFalse(); // all written: at its free bytes again
        assertThat(budget.chargedBytes()).isZero();
        slow.put(new byte[16 * KIB], false);
        assertThat(slow.slackBytes()).as("a permit again").isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).isZero();
    }

    @Test
    void aQueueKeepsItsPermitUntilTheChargeAboveThePermitsSlackIsTaken() throws Exception {
        SendQueue q = queue();
        q.put(new byte[60 * KIB], false);
        SendQueue other = queue();
        other.put(new byte[(int) FREE], false);
        other.put(new byte[(int) (LIMIT - 80 * KIB)], false); // 80 KiB of the budget left
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - 80 * KIB);

        // 90 KiB would need 86 charged: refused, the permit kept, nothing charged
        assertThatThrownBy(() -> q.put(new byte[30 * KIB], false)).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("outbound budget");
        assertThat(q.slackBytes()).isEqualTo(SLACK);
        assertThat(budget.slackPermitsHeld()).isEqualTo(1);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT - 80 * KIB);

        // a patient put waits for the charge, holding the permit meanwhile
        CompletableFuture<Object> put = waitingPut(q, 30 * KIB);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        assertThat(q.slackBytes()).isEqualTo(SLACK);
        other.close();
        assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);
        assertThat(q.slackBytes()).as("given back once charged").isEqualTo(FREE);
        assertThat(budget.chargedBytes()).isEqualTo(90 * KIB - FREE);
        assertThat(budget.slackPermitsHeld()).isZero();
    }

    /**
     * Ten puts wait for bytes and ten for a permit (a 16 KiB reply into an empty queue): a permit
     * given back wakes one of the ten, which takes it, and no other put (the old code woke all
     * twenty, which looked again and waited again).
     */
    @Test
    void aPermitGivenBackWakesOnePutThatWantsOne() throws Exception {
        SendQueue first = queue();
        first.put(new byte[60 * KIB], false);
        queue().put(new byte[60 * KIB], false);
        SendQueue full = queue();
        full.put(new byte[(int) (FREE + LIMIT)], false);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);

        List<CompletableFuture<Object>> forBytes = new ArrayList<>();
        List<CompletableFuture<Object>> forPermits = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            forBytes.add(waitingPut(queue(), 100 * KIB)); // above a permit's slack
            forPermits.add(waitingPut(queue(), 16 * KIB));
        }
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.waiters() == 20);
        long wakeUps = budget.wakeUps();

        assertThat(first.drain(new Object[1], Long.MAX_VALUE, 64)).isEqualTo(1);
        assertThat(first.releaseInline()).isFalse(); // written: its permit given back
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> forPermits.stream().filter(CompletableFuture::isDone).count() == 1);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 19);
        assertThat(forPermits.stream().filter(CompletableFuture::isDone).findFirst().orElseThrow().get())
                .isEqualTo(Boolean.TRUE);
        assertThat(budget.wakeUps() - wakeUps).as("puts woken by one permit given back").isEqualTo(1);
        assertThat(forBytes).noneMatch(CompletableFuture::isDone);
    }

    /**
     * A put woken for a permit that it will not take (here: one that looks at the budget itself)
     * passes the wake-up on, so the next put waiting for a permit takes it.
     */
    @Test
    void aWaiterWokenForAPermitItDoesNotTakePassesItOn() throws Exception {
        OutboundBudget own = new OutboundBudget(LIMIT);
        assertThat(own.tryTakeSlackPermit()).isTrue();
        assertThat(own.tryTakeSlackPermit()).isTrue();
        CompletableFuture<Void> firstWoken = awaitPermit(own);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> own.waiters() == 1);
        CompletableFuture<Void> secondWoken = awaitPermit(own);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> own.waiters() == 2);

        own.giveSlackPermit();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> own.waiters() == 1);
        assertThat(firstWoken).as("the longest waiting").isDone();
        assertThat(secondWoken).isNotDone();
        own.passSlackPermitOn(); // the first will not take it
        secondWoken.get(10, TimeUnit.SECONDS);
        assertThat(own.waiters()).isZero();
    }

    /** A wait for a slack permit on the budget itself, as a put that a permit would let in. */
    private CompletableFuture<Void> awaitPermit(OutboundBudget own) {
        CompletableFuture<Void> woken = new CompletableFuture<>();
        threads.add(Thread.ofPlatform().name("permit-waiter").start(() -> {
            try {
                own.awaitChange(0, true, TimeUnit.SECONDS.toNanos(30));
                woken.complete(null);
            } catch (Throwable t) {
                woken.completeExceptionally(t);
            }
        }));
        return woken;
    }

    /** A patient put of {@code length} bytes into {@code q} on a thread of its own: what it returned or threw. */
    private CompletableFuture<Object> waitingPut(SendQueue q, int length) {
        CompletableFuture<Object> put = BudgetedQueues.putOnItsOwnThread(q, length, true);
        puts.add(put);
        return put;
    }
}
