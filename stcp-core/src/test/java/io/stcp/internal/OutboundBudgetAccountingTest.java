package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The outbound budget's accounting, step by step on send queues of in-memory connections that
 * share one budget, with nobody draining but the test: after every put, drain, write, drop,
 * conflation, batch and close, the budget holds exactly each queue's bytes beyond its slack —
 * those queued and those of the batch last drained, until it is written (the next drain, or
 * {@code releaseInline}) or the queue closes — and nothing once all are closed; a put waiting for
 * the budget wakes when another queue frees bytes, when its own queue's batch is written, when
 * another queue gives its slack permit back, and when its own queue closes. Each queue's slack is
 * its free bytes, or the larger slack while it holds one of the budget's permits: taken only above
 * the free bytes, given back above the larger slack (the queue then charged all its bytes above the
 * free ones), never more than there are, every one given back once all are closed. String
 * keys, some larger than the messages, count in those bytes: a keyed entry just queued in a
 * conflating queue holds at least its key's and its message's.
 */
class OutboundBudgetAccountingTest {
    private static final long SLACK = OutboundBudget.SLACK_BYTES;
    private static final long LIMIT = 400 << 10;
    private static final int[] SIZES = {100, 10 << 10, 60 << 10, 150 << 10};
    /** String keys of 2 bytes up to 200 KiB as the queue counts them (two bytes a char). */
    private static final String[] KEYS = {"s", "m".repeat(5 << 10), "l".repeat(40 << 10), "h".repeat(100 << 10)};

    private final OutboundBudget budget = new OutboundBudget(LIMIT);
    /** Each open queue's bytes drained and not yet written, as the test drains and writes them. */
    private final Map<SendQueue, Long> drained = new IdentityHashMap<>();

    private SendQueue queue(OverflowPolicy policy, boolean conflate) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(Duration.ofSeconds(30)), 0, 0, 0, List.of(), budget);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        MemoryTransport memory = new MemoryTransport();
        RealConnection c = new RealConnection(null, address, address, true, context, x -> memory);
        return new SendQueue(new QueueLimits(64, 1 << 20, policy, 0, conflate, new DirectChunks(0)), c);
    }

    private long expectedCharge(List<SendQueue> queues) {
        return queues.stream().mapToLong(q -> Math.max(0, q.stats().pendingBytes() + drainedOf(q) - q.slackBytes())).sum();
    }

    /** The bytes drained from {@code q} and not written: none once it is closed, its batch lost with it. */
    private long drainedOf(SendQueue q) {
        return q.isOpen() ? drained.getOrDefault(q, 0L) : 0;
    }

    @Test
    void everyStepLeavesExactlyTheBytesBeyondEachSlackCharged() {
        long mostPermitsHeld = 0;
        OverflowPolicy[] policies = OverflowPolicy.values();
        for (long seed = 1; seed <= 20; seed++) {
            Random random = new Random(seed);
            List<SendQueue> queues = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                queues.add(queue(policies[i % policies.length], i % 2 == 0));
            }
            for (int step = 0; step < 500; step++) {
                int i = random.nextInt(queues.size());
                SendQueue q = queues.get(i);
                String op = step(random, q);
                if (!q.isOpen() && random.nextBoolean()) {
                    queues.set(i, queue(policies[random.nextInt(policies.length)], random.nextBoolean()));
                }
                assertThat(budget.chargedBytes()).as("seed %d step %d after %s", seed, step, op)
                        .isEqualTo(expectedCharge(queues)).isBetween(0L, LIMIT);
                long permits = queues.stream().filter(x -> x.slackBytes() == SLACK).count();
                assertThat(budget.slackPermitsHeld()).as("seed %d step %d after %s: permits held", seed, step, op)
                        .isEqualTo(permits).isLessThanOrEqualTo(budget.slackPermits());
                mostPermitsHeld = Math.max(mostPermitsHeld, permits);
                assertThat(queues).as("a queue holds a permit only above the free bytes, never above a permit's slack")
                        .allMatch(x -> x.slackBytes() == OutboundBudget.FREE_BYTES
                                || x.stats().pendingBytes() + drainedOf(x) > OutboundBudget.FREE_BYTES
                                && x.stats().pendingBytes() + drainedOf(x) <= SLACK);
            }
            queues.forEach(SendQueue::close);
            assertThat(budget.chargedBytes()).as("seed %d: all closed", seed).isZero();
            assertThat(budget.slackPermitsHeld()).as("seed %d: all closed, every permit given back", seed).isZero();
        }
        assertThat(budget.peakBytes()).as("the budget was filled at times").isGreaterThan(LIMIT / 2);
        assertThat(mostPermitsHeld).as("every permit was taken at times").isEqualTo(budget.slackPermits()).isEqualTo(2);
    }

    /** One random step on {@code q}; what it was. */
    private String step(Random random, SendQueue q) {
        byte[] message = new byte[SIZES[random.nextInt(SIZES.length)]];
        try {
            switch (random.nextInt(10)) {
                case 0, 1 -> q.put(message, false);
                case 2, 3 -> q.put(random.nextInt(4), message, false);
                case 7, 8 -> {
                    // a new String each time: an equal key conflates into the queued one, counted once
                    String key = new String(KEYS[random.nextInt(KEYS.length)]);
                    byte[] value = new byte[random.nextBoolean() ? 1 : message.length];
                    q.put(key, value, false);
                    long counted = (q.conflating() ? 2L * key.length() : 0) + value.length; // else a plain put
                    assertThat(q.stats().pendingBytes()).as("a queued key counts").isGreaterThanOrEqualTo(counted);
                    if (q.conflating() && random.nextInt(4) == 0) {
                        q.putAll(KeyedBatch.ofString(List.of(new Sender.StringKeyed(key, new byte[1]),
                                new Sender.StringKeyed(KEYS[random.nextInt(KEYS.length)], value))), false);
                    }
                    return "put under a key of " + key.length() + " chars of " + value.length;
                }
                case 4 -> q.putAll(KeyedBatch.ofInt(List.of(new Sender.IntKeyed(random.nextInt(4), message),
                        new Sender.IntKeyed(random.nextInt(4), new byte[SIZES[random.nextInt(SIZES.length)]]))), false);
                case 5 -> {
                    Object[] out = new Object[1 + random.nextInt(3)];
                    long before = q.stats().pendingBytes();
                    int n = q.drain(out, 1 + random.nextInt(200 << 10), 64);
                    long taken = before - q.stats().pendingBytes(); // the messages' bytes, and their keys'
                    drained.put(q, taken); // the batch before is written
                    return "drain of " + n + ", " + taken + " bytes";
                }
                case 6 -> {
                    q.releaseInline(); // as a reader that paid its drain: the batch is written
                    drained.put(q, 0L);
                    return "batch written";
                }
                default -> {
                    if (random.nextInt(8) == 0) {
                        q.close();
                        return "close";
                    }
                    q.put(message, false);
                }
            }
            return "put of " + message.length;
        } catch (QueueFullException | SlowConsumerException | SenderClosedException refused) {
            return "refused put of " + message.length + ": " + refused.getMessage();
        }
    }

    @Test
    void aPutWaitingForTheBudgetWakesWhenAnotherQueueFreesBytesAndWhenItsQueueCloses() throws Exception {
        SendQueue full = fullBudget();
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);

        SendQueue waiting = queue(OverflowPolicy.FAIL, false);
        CompletableFuture<Object> put = waitingPut(waiting, 96 << 10);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        // the put, beyond the larger slack, needs 92 KiB charged
        assertThat(full.drain(new Object[7], Long.MAX_VALUE, 64)).isEqualTo(7); // 100 KiB taken for a write
        assertThat(budget.chargedBytes()).as("a batch being written stays charged").isEqualTo(LIMIT);
        assertThat(full.drain(new Object[1], Long.MAX_VALUE, 64)).isEqualTo(1); // the 100 KiB written
        assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);

        CompletableFuture<Object> closed = waitingPut(waiting, 96 << 10);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        waiting.close();
        assertThat(closed.get(10, TimeUnit.SECONDS)).isInstanceOf(SenderClosedException.class);
        assertThat(budget.waiters()).isZero();
        full.close();
        assertThat(budget.chargedBytes()).isZero();
    }

    @Test
    void aPutWaitingForTheBudgetWakesWhenItsOwnQueuesBatchWithinTheSlackIsWritten() throws Exception {
        SendQueue full = fullBudget();
        SendQueue own = queue(OverflowPolicy.FAIL, false);
        own.put(new byte[60 << 10], false);
        assertThat(own.drain(new Object[1], Long.MAX_VALUE, 64)).isEqualTo(1); // 60 KiB being written, within the slack
        CompletableFuture<Object> put = waitingPut(own, 64 << 10); // 44 KiB beyond the slack with the batch; the budget is full
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);

        assertThat(own.releaseInline()).as("nothing queued behind the batch").isFalse(); // written: nothing charged changes
        assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT); // the 64 KiB fit the slack
        own.close();
        full.close();
        assertThat(budget.chargedBytes()).isZero();
    }

    @Test
    void aPutWaitingForTheBudgetWakesWhenAnotherQueueGivesItsSlackPermitBack() throws Exception {
        assertThat(budget.slackPermits()).isEqualTo(2);
        SendQueue first = queue(OverflowPolicy.FAIL, false);
        SendQueue second = queue(OverflowPolicy.FAIL, false);
        first.put(new byte[60 << 10], false);
        second.put(new byte[60 << 10], false);
        assertThat(budget.slackPermitsHeld()).as("each took one").isEqualTo(2);
        SendQueue full = queue(OverflowPolicy.FAIL, false);
        full.put(new byte[(int) (OutboundBudget.FREE_BYTES + LIMIT)], false); // no permit left: charged beyond its free bytes
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        assertThat(full.slackBytes()).isEqualTo(OutboundBudget.FREE_BYTES);

        SendQueue waiting = queue(OverflowPolicy.FAIL, false);
        CompletableFuture<Object> put = waitingPut(waiting, 16 << 10); // beyond its free bytes: a permit or a charge
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        assertThat(first.drain(new Object[1], Long.MAX_VALUE, 64)).isEqualTo(1);
        assertThat(put).as("a batch being written keeps the permit").isNotDone();
        assertThat(first.releaseInline()).isFalse(); // written: the queue is empty, its permit given back
        assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);
        assertThat(waiting.slackBytes()).as("it took the permit given back").isEqualTo(SLACK);
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        for (SendQueue q : List.of(first, second, full, waiting)) {
            q.close();
        }
        assertThat(budget.chargedBytes()).isZero();
        assertThat(budget.slackPermitsHeld()).isZero();
    }

    /** A queue of its free bytes and 25 messages of 16 KiB, above a permit's slack: the whole budget charged. */
    private SendQueue fullBudget() throws SlowConsumerException {
        SendQueue full = queue(OverflowPolicy.FAIL, false);
        full.put(new byte[(int) OutboundBudget.FREE_BYTES], false);
        for (long charged = 0; charged < LIMIT; charged += 16 << 10) {
            full.put(new byte[16 << 10], false);
        }
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);
        return full;
    }

    /** A patient put of {@code length} bytes into {@code q} on a thread of its own: what it returned or threw. */
    private static CompletableFuture<Object> waitingPut(SendQueue q, int length) {
        return BudgetedQueues.putOnItsOwnThread(q, length, true);
    }
}
