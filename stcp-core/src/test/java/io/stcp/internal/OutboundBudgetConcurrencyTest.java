package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToIntFunction;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The outbound budget under concurrent puts and drains, where {@link OutboundBudgetAccountingTest}
 * takes one step at a time: producers whose patient puts wait for the budget, or for a slack
 * permit another queue gives back as it empties (each permit waking one such put), while a drainer
 * per queue keeps it moving. No
 * put waits out its patience (30 s, where each wait here lasts milliseconds), the budget is never
 * passed, and once every queue is written and closed nothing is charged, every slack permit is
 * free again and no put waits.
 */
class OutboundBudgetConcurrencyTest {
    private static final long LIMIT = 400 << 10; // two slack permits
    private static final int[] SIZES = {1 << 10, 6 << 10, 20 << 10, 70 << 10, 120 << 10};
    private static final int QUEUES = 6;
    private static final int PUTS = 1500;

    private final OutboundBudget budget = new OutboundBudget(LIMIT);

    private SendQueue queue() {
        return queue(OverflowPolicy.FAIL, false);
    }

    private SendQueue queue(OverflowPolicy policy, boolean conflate) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(Duration.ofSeconds(30)), 0, 0, 0, List.of(), budget);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        MemoryTransport memory = new MemoryTransport();
        RealConnection c = new RealConnection(null, address, address, true, context, x -> memory);
        return new SendQueue(new QueueLimits(64, 1 << 20, policy, 0, conflate, new DirectChunks(0)), c);
    }

    @Test
    void putsOfEverySizeWaitingForTheBudgetAlwaysWakeAndEverythingComesBack() throws Exception {
        assertThat(budget.slackPermits()).isEqualTo(2);
        List<SendQueue> queues = queues();
        assertThat(putAndDrain(queues, random -> SIZES[random.nextInt(SIZES.length)])).as("puts refused").isEmpty();
        assertThat(budget.peakBytes()).as("the budget was filled").isGreaterThan(LIMIT / 2).isLessThanOrEqualTo(LIMIT);
        allGivenBackOnceWrittenAndClosed(queues);
    }

    /**
     * With the budget spent by a queue nobody drains, a put above the free bytes gets in only with
     * a slack permit: each waits for one another queue gives back, and every give must reach it.
     */
    @Test
    void putsWaitingOnlyForSlackPermitsAlwaysWake() throws Exception {
        putAndDrainBesideAQueueThatSpentTheBudget(random -> 20 << 10);
    }

    /**
     * With the budget spent by a queue nobody drains, puts of 20 and 50 KiB: a queue holding a
     * permit that one would raise above the permit's slack must be charged all its bytes above the
     * free ones, which the budget has not, so it waits, holding its permit, until its own drains
     * let the put in within the slack; the others wait for the permits those give back.
     */
    @Test
    void putsThatWouldRaiseAQueueAboveThePermitsSlackAlwaysWake() throws Exception {
        putAndDrainBesideAQueueThatSpentTheBudget(random -> random.nextBoolean() ? 20 << 10 : 50 << 10);
    }

    /** Puts of {@code size} into queues drained meanwhile, while a queue nobody drains holds the whole budget charged and no permit. */
    private void putAndDrainBesideAQueueThatSpentTheBudget(ToIntFunction<Random> size) throws Exception {
        SendQueue hog = queue();
        hog.put(new byte[(int) (OutboundBudget.FREE_BYTES + LIMIT)], false); // above the permit's slack: none taken
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        assertThat(budget.slackPermitsHeld()).isZero();
        List<SendQueue> queues = queues();
        assertThat(putAndDrain(queues, size)).as("puts refused").isEmpty();
        assertThat(budget.chargedBytes()).as("only the undrained queue's").isEqualTo(LIMIT);
        assertThat(budget.slackPermitsHeld()).as("every queue written").isZero();
        hog.close();
        queues.forEach(SendQueue::close);
        assertThat(budget.chargedBytes()).isZero();
        assertThat(budget.waiters()).isZero();
    }

    /**
     * Conflating queues under DROP_OLDEST, keyed puts of every size over a few keys: a put the
     * budget refuses drops its queue's oldest, its own key's value among them, and takes its share
     * in the same step, or waits; whatever the drops and the puts do, nothing is charged, no permit
     * held and no put waiting once all are written and closed.
     */
    @Test
    void keyedPutsDroppingTheirOldestForTheBudgetLeaveItWhole() throws Exception {
        List<SendQueue> queues = new ArrayList<>();
        for (int i = 0; i < QUEUES; i++) {
            queues.add(queue(OverflowPolicy.DROP_OLDEST, true));
        }
        assertThat(putAndDrain(queues, random -> SIZES[random.nextInt(SIZES.length)], random -> random.nextInt(4)))
                .as("puts refused").isEmpty();
        assertThat(budget.peakBytes()).isLessThanOrEqualTo(LIMIT);
        allGivenBackOnceWrittenAndClosed(queues);
    }

    /** Every queue written: nothing charged, no permit held; closed: no put waits. */
    private void allGivenBackOnceWrittenAndClosed(List<SendQueue> queues) {
        assertThat(budget.chargedBytes()).as("every queue written").isZero();
        assertThat(budget.slackPermitsHeld()).as("every queue written").isZero();
        queues.forEach(SendQueue::close);
        assertThat(budget.chargedBytes()).isZero();
        assertThat(budget.slackPermitsHeld()).isZero();
        assertThat(budget.waiters()).isZero();
    }

    private List<SendQueue> queues() {
        List<SendQueue> queues = new ArrayList<>();
        for (int i = 0; i < QUEUES; i++) {
            queues.add(queue());
        }
        return queues;
    }

    private List<Throwable> putAndDrain(List<SendQueue> queues, ToIntFunction<Random> size) throws InterruptedException {
        return putAndDrain(queues, size, null);
    }

    /**
     * Into each queue, from a thread of its own, {@link #PUTS} patient puts of {@code size} bytes
     * (under a {@code key} if one is given),
     * while another thread drains it until they are done and it is written; what the puts threw.
     */
    private List<Throwable> putAndDrain(List<SendQueue> queues, ToIntFunction<Random> size,
            @Nullable ToIntFunction<Random> key) throws InterruptedException {
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicInteger producing = new AtomicInteger(queues.size());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < queues.size(); i++) {
            SendQueue q = queues.get(i);
            Random random = new Random(i);
            threads.add(Thread.ofPlatform().name("producer-" + i).start(() -> {
                try {
                    for (int n = 0; n < PUTS; n++) {
                        if (key == null) {
                            q.put(new byte[size.applyAsInt(random)], true);
                        } else {
                            q.put(key.applyAsInt(random), new byte[size.applyAsInt(random)], true);
                        }
                    }
                } catch (Throwable t) {
                    failures.add(t);
                } finally {
                    producing.decrementAndGet();
                }
            }));
            threads.add(Thread.ofPlatform().name("drainer-" + i).start(() -> {
                Object[] out = new Object[8];
                while (producing.get() > 0 || q.queuedCount() > 0) {
                    if (q.drain(out, 64 << 10, 64) == 0) {
                        Thread.yield();
                    }
                }
                q.drain(out, 64 << 10, 64); // the last batch written
            }));
        }
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(120));
            assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
        }
        return List.copyOf(failures);
    }
}
