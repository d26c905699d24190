package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.Sender;
import io.stcp.SenderClosedException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The outbound budget's accounting, step by step on send queues of in-memory connections that
 * share one budget, with nobody draining but the test: after every put, drain, drop, conflation,
 * batch and close, the budget holds exactly each queue's bytes beyond its slack, and nothing once
 * all are closed; a put waiting for the budget wakes when another queue frees bytes and when its
 * own queue closes. String keys, some larger than the messages, count in those bytes: a keyed
 * entry just queued in a conflating queue holds at least its key's and its message's.
 */
class OutboundBudgetAccountingTest {
    private static final long SLACK = OutboundBudget.SLACK_BYTES;
    private static final long LIMIT = 400 << 10;
    private static final int[] SIZES = {100, 10 << 10, 60 << 10, 150 << 10};
    /** String keys of 2 bytes up to 200 KiB as the queue counts them (two bytes a char). */
    private static final String[] KEYS = {"s", "m".repeat(5 << 10), "l".repeat(40 << 10), "h".repeat(100 << 10)};

    private final OutboundBudget budget = new OutboundBudget(LIMIT);

    private SendQueue queue(OverflowPolicy policy, boolean conflate) {
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(), ExitLog.SHARED,
                Nanos.timeout(Duration.ofSeconds(30)), 0, 0, 0, List.of(), budget);
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", 1);
        MemoryTransport memory = new MemoryTransport();
        RealConnection c = new RealConnection(null, address, address, true, context, x -> memory);
        return new SendQueue(new QueueLimits(64, 1 << 20, policy, 0, conflate, new DirectChunks(0)), c);
    }

    private long expectedCharge(List<SendQueue> queues) {
        return queues.stream().mapToLong(q -> Math.max(0, q.stats().pendingBytes() - SLACK)).sum();
    }

    @Test
    void everyStepLeavesExactlyTheBytesBeyondEachSlackCharged() {
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
            }
            queues.forEach(SendQueue::close);
            assertThat(budget.chargedBytes()).as("seed %d: all closed", seed).isZero();
        }
        assertThat(budget.peakBytes()).as("the budget was filled at times").isGreaterThan(LIMIT / 2);
    }

    /** One random step on {@code q}; what it was. */
    private static String step(Random random, SendQueue q) {
        byte[] message = new byte[SIZES[random.nextInt(SIZES.length)]];
        try {
            switch (random.nextInt(9)) {
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
                    int n = q.drain(out, 1 + random.nextInt(200 << 10), 64);
                    return "drain of " + n;
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
        SendQueue full = queue(OverflowPolicy.FAIL, false);
        for (long queued = 0; queued < SLACK + LIMIT; queued += 16 << 10) {
            full.put(new byte[16 << 10], false);
        }
        assertThat(budget.chargedBytes()).isEqualTo(LIMIT);

        SendQueue waiting = queue(OverflowPolicy.FAIL, false);
        CompletableFuture<Object> put = waitingPut(waiting);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        assertThat(full.drain(new Object[4], Long.MAX_VALUE, 64)).isEqualTo(4); // 64 KiB freed
        assertThat(put.get(10, TimeUnit.SECONDS)).isEqualTo(Boolean.TRUE);

        CompletableFuture<Object> closed = waitingPut(waiting);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        waiting.close();
        assertThat(closed.get(10, TimeUnit.SECONDS)).isInstanceOf(SenderClosedException.class);
        assertThat(budget.waiters()).isZero();
        full.close();
        assertThat(budget.chargedBytes()).isZero();
    }

    /** A patient put of 96 KiB into {@code q} on a thread of its own: what it returned or threw. */
    private static CompletableFuture<Object> waitingPut(SendQueue q) {
        CompletableFuture<Object> result = new CompletableFuture<>();
        Thread.ofPlatform().name("budget-waiter").start(() -> {
            try {
                q.put(new byte[96 << 10], true);
                result.complete(Boolean.TRUE);
            } catch (Throwable t) {
                result.complete(t);
            }
        });
        return result;
    }
}
