package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ReadTimeoutException;
import io.stcp.framing.FrameTooLongException;
import java.lang.reflect.Field;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link InboundBudget} and {@link ArrayGrowth} under values that grow at once, seeded: the lines
 * of 2 to 6 connections, whose lengths sum to less or more than the budget, arrive in random
 * chunks (at least a byte beyond a full array before each step, as a reader that waits for input
 * before it grows); some values are given up midway (a close, a frame timeout), some have their
 * connection closed by another thread at a random moment, as a close does (mid-wait or not), and
 * some have a first-frame deadline of a few milliseconds, which may pass while they wait for room.
 * Other values have no deadline, so a cycle of waits would hang its trial: every value must
 * complete or fail within the trial's bound (a closed one may also fail closed, a timed one time
 * out), every value must complete when all of them fit the budget together, and the budget must
 * end empty with its counts back to zero. {@code -Dstress.seed=N} runs other trials, {@code -Dstress.trials=N} more.
 */
class InboundBudgetStressTest {
    private static final long LIMIT = 256 << 10;
    private static final int TRIALS = Integer.getInteger("stress.trials", 150);
    private static final long TRIAL_BOUND_NANOS = TimeUnit.SECONDS.toNanos(3);
    private static final long SEED = Long.getLong("stress.seed", 0x5eedL);

    @Test
    void valuesGrowingAtOnceEachCompleteOrFailAndAllCompleteWhenTheyFit() throws Exception {
        long started = System.nanoTime();
        for (int trial = 0; trial < TRIALS; trial++) {
            trial(new Random(SEED * 31 + trial), trial);
        }
        assertThat(System.nanoTime() - started).as("all trials")
                .isLessThan(TimeUnit.SECONDS.toNanos(20) * Math.max(1, TRIALS / 150));
    }

    private static void trial(Random random, int trial) throws Exception {
        InboundBudget budget = new InboundBudget(LIMIT);
        int n = 2 + random.nextInt(5);
        double share = (0.5 + random.nextDouble()) / n; // the values sum to half to one and a half budgets
        Random ends = new Random(~(SEED * 31 + trial)); // closes and deadlines: a draw of their own, the rest as before
        List<Value> values = new ArrayList<>();
        long sum = 0;
        for (int i = 0; i < n; i++) {
            int length = ConnectionInput.BUFFER_SIZE + 1 + random.nextInt((int) (2 * share * LIMIT));
            int chunk = 1 + random.nextInt(random.nextBoolean() ? 1 << 10 : 64 << 10);
            int givesUpAfter = random.nextInt(8) == 0 ? random.nextInt(12) : -1;
            int closesAfterMicros = ends.nextInt(8) == 0 ? ends.nextInt(5_000) : -1;
            long timeoutNanos = ends.nextInt(8) == 0 ? TimeUnit.MICROSECONDS.toNanos(1_000 + ends.nextInt(20_000)) : 0;
            values.add(new Value(budget, length, chunk, givesUpAfter, random.nextLong(), closesAfterMicros,
                    timeoutNanos));
            sum += length - ConnectionInput.BUFFER_SIZE;
        }
        CountDownLatch start = new CountDownLatch(1); // all begin at once: their growths overlap
        List<Thread> threads = new ArrayList<>();
        for (Value v : values) {
            threads.add(Thread.ofPlatform().daemon().start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                v.run();
            }));
            if (v.closesAfterMicros >= 0) {
                threads.add(Thread.ofPlatform().daemon().start(() -> {
                    try {
                        start.await();
                        // a random moment to close at, not a synchronisation: before, during or after a wait
                        Thread.sleep(Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(v.closesAfterMicros)));
                    } catch (InterruptedException e) {
                        return;
                    }
                    v.socket.close(); // as a connection's close does: then its waiting reservation looks again
                    budget.wakeWaiters();
                }));
            }
        }
        start.countDown();
        long deadline = System.nanoTime() + TRIAL_BOUND_NANOS;
        for (Thread t : threads) {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        }
        String what = "trial " + trial + ": " + values + " in " + LIMIT;
        boolean hung = threads.stream().anyMatch(Thread::isAlive);
        if (hung) {
            threads.forEach(Thread::interrupt); // InterruptedIOException: the waits end, and give their parts back
            for (Thread t : threads) {
                t.join(10_000);
            }
        }
        assertThat(hung).as(what + ": a value still waits, none of them able to end its wait").isFalse();
        for (Value v : values) {
            assertThat(v.failure == null || v.failure instanceof FrameTooLongException
                    || v.closesAfterMicros >= 0 && v.failure instanceof ClosedChannelException
                    || v.timeoutNanos > 0 && v.failure instanceof ReadTimeoutException)
                    .as(what + ": " + v.failure).isTrue();
            assertThat(v.outcome).as(what).isNotNull();
        }
        if (sum <= LIMIT) {
            for (Value v : values) {
                assertThat(v.outcome).as(what + ": the values fit together").isIn("completed", "gave up", "ended");
            }
        }
        assertThat(budget.peakBytes()).as(what).isLessThanOrEqualTo(LIMIT);
        assertThat(budget.usedBytes()).as(what).isZero();
        assertThat(budget.waiters()).as(what).isZero();
        assertThat(field(budget, "holding")).as(what + ": holding").isEqualTo(0);
        assertThat(field(budget, "waitingHolders")).as(what + ": waitingHolders").isEqualTo(0);
        assertThat(field(budget, "holder")).as(what + ": holder").isNull();
        assertThat(field(budget, "failing")).as(what + ": failing").isNull();
        assertThat(field(budget, "largest")).as(what + ": largest").isNull();
    }

    private static Object field(InboundBudget budget, String name) throws ReflectiveOperationException {
        Field f = InboundBudget.class.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(budget);
    }

    /** One connection's line: its peer sends it in chunks, its reader grows its array as DelimitedRead does. */
    private static final class Value implements Runnable {
        private final int length;
        private final int chunk;
        private final int givesUpAfter;
        final int closesAfterMicros;  // -1: its connection is not closed
        final long timeoutNanos;      // its first-frame timeout, from its making; 0: none
        private final Random random;
        final MemoryTransport socket = new MemoryTransport();
        private final ArrayGrowth growth;
        volatile String outcome;
        volatile Throwable failure;

        Value(InboundBudget budget, int length, int chunk, int givesUpAfter, long seed, int closesAfterMicros,
              long timeoutNanos) {
            this.length = length;
            this.chunk = chunk;
            this.givesUpAfter = givesUpAfter;
            this.closesAfterMicros = closesAfterMicros;
            this.timeoutNanos = timeoutNanos;
            this.random = new Random(seed);
            this.growth = new ArrayGrowth(new ConnectionInput(socket, true, budget, timeoutNanos, 0, () -> {}));
        }

        @Override
        public void run() {
            try {
                outcome = read();
            } catch (Throwable e) {
                failure = e;
                boolean ended = e instanceof ClosedChannelException && closesAfterMicros >= 0
                        || e instanceof ReadTimeoutException && timeoutNanos > 0;
                outcome = ended ? "ended" : "failed"; // "ended": closed, or timed out, as it was to be
            } finally {
                growth.release();
            }
        }

        private String read() throws Exception {
            int array = ConnectionInput.BUFFER_SIZE; // the first buffer's worth, which needs no budget
            long sent = ConnectionInput.BUFFER_SIZE;
            long filled = ConnectionInput.BUFFER_SIZE;
            byte[] drain = new byte[64 << 10];
            for (int steps = 0; ; steps++) {
                if (steps == givesUpAfter) {
                    return "gave up"; // its connection closed, or its frame timed out
                }
                int more = (int) Math.min(length - sent, 1 + random.nextInt(chunk));
                if (more > 0) {
                    socket.feed(new byte[more]);
                    sent += more;
                }
                long taken = Math.min(array, sent) - filled; // the reader reads into its array
                for (long t = taken; t > 0; ) {
                    t -= socket.read(drain, 0, (int) Math.min(t, drain.length), 0);
                }
                filled += taken;
                if (sent == length) { // its delimiter has arrived (buffered: the end is known)
                    if (length > array) {
                        growth.grow(length, length, false);
                    } else if (length < array) {
                        growth.copyOut(length);
                    }
                    return "completed";
                }
                if (filled == array && sent > filled) {
                    array = growth.grow(array, Integer.MAX_VALUE - 8, false);
                    Thread.yield(); // the others' turn: their steps and this one's interleave
                }
            }
        }

        @Override
        public String toString() {
            return length + "/" + chunk + (givesUpAfter >= 0 ? "/gives up after " + givesUpAfter : "")
                    + (closesAfterMicros >= 0 ? "/closed after " + closesAfterMicros + " us" : "")
                    + (timeoutNanos > 0 ? "/times out after " + timeoutNanos / 1_000 + " us" : "") + ":" + outcome;
        }
    }
}
