package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.LogCapture;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * {@link DirectChunks}: lends whole chunks up to its limit, keeps what is given back for the next
 * take, and frees what stays unused for a whole idle period.
 */
class DirectChunksTest {
    private static final int CHUNK = DirectChunks.CHUNK;

    @Test
    void lendsUpToItsLimitAndNoMore() {
        DirectChunks pool = new DirectChunks(4L * CHUNK + CHUNK / 2); // rounded down to 4 chunks
        assertThat(pool.limitBytes()).isEqualTo(4L * CHUNK);

        ByteBuffer[] three = pool.take(3);
        assertThat(three).hasSize(3).allSatisfy(c -> {
            assertThat(c.isDirect()).isTrue();
            assertThat(c.capacity()).isEqualTo(CHUNK);
            assertThat(c.position()).isZero();
        });
        assertThat(pool.take(2)).as("one chunk is left").isNull();
        assertThat(pool.memory().usedBytes()).isEqualTo(3L * CHUNK);

        ByteBuffer[] one = pool.take(1);
        assertThat(one).hasSize(1);
        assertThat(pool.take(1)).isNull();

        pool.give(three);
        pool.give(one);
        assertThat(pool.memory().usedBytes()).isZero();
        assertThat(pool.take(4)).hasSize(4);
    }

    @Test
    void chunksGivenBackAreLentAgainClearedInsteadOfMadeAnew() {
        DirectChunks pool = new DirectChunks(8L * CHUNK, 0); // never trimmed: the test may stall
        ByteBuffer[] first = pool.take(2);
        first[0].put(new byte[100]).flip();
        first[1].position(CHUNK);
        pool.give(first);

        ByteBuffer[] again = pool.take(2);
        assertThat(again).containsExactlyInAnyOrder(first);
        assertThat(again).allSatisfy(c -> {
            assertThat(c.position()).isZero();
            assertThat(c.limit()).isEqualTo(CHUNK);
        });
        assertThat(pool.memory().heldBytes()).as("nothing new was made").isEqualTo(2L * CHUNK);

        pool.take(3);
        assertThat(pool.memory().heldBytes()).isEqualTo(5L * CHUNK);
    }

    @Test
    void aPoolOfNothingLendsNothing() {
        DirectChunks pool = new DirectChunks(CHUNK - 1);
        assertThat(pool.limitBytes()).isZero();
        assertThat(pool.take(1)).isNull();
        assertThat(pool.memory().heldBytes()).isZero();
        assertThatThrownBy(() -> new DirectChunks(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }

    @Test
    void onlyMessagesOfAChunkAndMoreAreWorthCopying() {
        assertThat(DirectChunks.worthCopying(CHUNK - 1)).isFalse();
        assertThat(DirectChunks.worthCopying(CHUNK)).isTrue();
        assertThat(DirectChunks.chunksFor(CHUNK)).isEqualTo(1);
        assertThat(DirectChunks.chunksFor(CHUNK + 1)).isEqualTo(2);
        assertThat(DirectChunks.chunksFor(1 << 20)).isEqualTo(16);
    }

    @Test
    void theProcessWideLimitIsAnEighthOfTheHeapAtMostAGibibyteUnlessThePropertySaysOtherwise() {
        assertThat(DirectChunks.limitOf(null, 8L << 30)).isEqualTo(1L << 30);
        assertThat(DirectChunks.limitOf(" ", 1L << 30)).isEqualTo(128L << 20);
        assertThat(DirectChunks.limitOf(" 1048576 ", 1L << 30)).isEqualTo(1L << 20);
        assertThat(DirectChunks.limitOf("0", 1L << 30)).isZero();
        assertThat(DirectChunks.limitOf("-5", 1L << 30)).isEqualTo(-1);
        assertThat(DirectChunks.limitOf("64m", 1L << 30)).isEqualTo(-1);
        assertThat(DirectChunks.shared().limitBytes())
                .isEqualTo(DirectChunks.limitOf(System.getProperty(DirectChunks.PROPERTY), Runtime.getRuntime().maxMemory())
                        / DirectChunks.CHUNK * DirectChunks.CHUNK);
    }

    @Test
    void theIdlePeriodIsMillisecondsFromThePropertyTenSecondsWithoutIt() {
        assertThat(DirectChunks.idleMillisOf(null)).isEqualTo(10_000);
        assertThat(DirectChunks.idleMillisOf(" 250 ")).isEqualTo(250);
        assertThat(DirectChunks.idleMillisOf("0")).as("never trimmed").isZero();
        assertThat(DirectChunks.idleMillisOf("-5")).isEqualTo(-1);
        assertThat(DirectChunks.idleMillisOf("10s")).isEqualTo(-1);
        assertThatThrownBy(() -> new DirectChunks(CHUNK, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }

    @Test
    void chunksLeftFreeForAWholeIdlePeriodAreFreedAtOnceAndLaterTakesMakeNewOnes() {
        DirectChunks pool = new DirectChunks(8L * CHUNK, TimeUnit.MILLISECONDS.toNanos(500)); // a stall of that is rare
        ByteBuffer[] burst = pool.take(4);
        pool.give(burst);
        assertThat(pool.memory().heldBytes()).isEqualTo(4L * CHUNK);

        await().atMost(Duration.ofSeconds(10)).until(() -> pool.memory().heldBytes() == 0);
        assertThat(ChunkMemory.freesAtOnce()).as("JDK 22 and later").isEqualTo(Runtime.version().feature() >= 22);
        if (ChunkMemory.freesAtOnce()) {
            for (ByteBuffer freed : burst) { // its arena is closed: the memory is gone, not waiting for a collection
                assertThatThrownBy(() -> freed.get(0)).isInstanceOf(IllegalStateException.class);
            }
        }
        ByteBuffer[] again = pool.take(2);
        for (ByteBuffer b : burst) { // by identity: equals() would read the freed ones
            assertThat(again).noneMatch(a -> a == b);
        }
        assertThat(pool.memory().heldBytes()).isEqualTo(2L * CHUNK);
        again[0].put(0, (byte) 7);
        pool.give(again);
        await().atMost(Duration.ofSeconds(10)).until(() -> pool.memory().heldBytes() == 0);
    }

    @Test
    void aSteadyLoadAfterABurstKeepsTheChunksItUsesAndOnlyThose() {
        // The loop below takes many times in every period (about 250); only a stall of the test's
        // thread through a whole period, as rare as in the test above, would let the trimming free
        // a chunk in use.
        long idle = TimeUnit.MILLISECONDS.toNanos(500);
        DirectChunks pool = new DirectChunks(16L * CHUNK, idle);
        pool.give(pool.take(4));
        Set<ByteBuffer> used = Collections.newSetFromMap(new IdentityHashMap<>());
        long end = System.nanoTime() + 3 * idle + idle / 2; // three wakes: the first frees nothing, the second the idle two
        while (System.nanoTime() < end) {
            ByteBuffer[] two = pool.take(2);
            used.addAll(List.of(two));
            pool.give(two);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2)); // pacing, not synchronisation
        }
        assertThat(pool.memory().heldBytes()).as("the two in use, not the burst's other two").isEqualTo(2L * CHUNK);
        assertThat(used).as("the same two chunks all along: never freed while in use, never made again").hasSize(2);
        await().atMost(Duration.ofSeconds(10)).until(() -> pool.memory().heldBytes() == 0); // unused now: they go too
    }

    @Test
    void anIdlePeriodOfZeroKeepsEveryChunk() {
        DirectChunks pool = new DirectChunks(4L * CHUNK, 0);
        pool.give(pool.take(4));
        assertThat(Threads.live()).as("no trimming thread").isZero();
        assertThat(pool.memory().heldBytes()).isEqualTo(4L * CHUNK);
    }

    @Test
    void aTakeThatRunsOutOfMemoryHalfWayFreesWhatItMadeAndPutsBackWhatItTook() {
        List<ChunkMemory.Allocation> made = new ArrayList<>();
        AtomicInteger allowed = new AtomicInteger(3);
        DirectChunks pool = new DirectChunks(16L * CHUNK, 0, size -> {
            if (allowed.getAndDecrement() <= 0) {
                throw new OutOfMemoryError("simulated: cannot allocate memory");
            }
            ChunkMemory.Allocation a = ChunkMemory.allocate(size);
            made.add(a);
            return a;
        });
        ByteBuffer[] two = pool.take(2);
        pool.give(two); // two free chunks, then one more may be made

        assertThat(pool.take(5)).as("takes the two, makes one, fails on the next: the message stays an array").isNull();

        assertThat(pool.memory().usedBytes()).isZero();
        assertThat(pool.memory().heldBytes()).as("the two free ones only").isEqualTo(2L * CHUNK);
        if (ChunkMemory.freesAtOnce()) {
            ByteBuffer third = made.get(2).buffer();
            assertThatThrownBy(() -> third.get(0)).as("the one made for the failed take is freed")
                    .isInstanceOf(IllegalStateException.class);
        }
        allowed.set(0);
        ByteBuffer[] again = pool.take(2);
        assertThat(again).as("the two it took were put back, in their order").satisfiesExactly(
                a -> assertThat(a).isSameAs(two[1]), b -> assertThat(b).isSameAs(two[0]));
        pool.give(again);
    }

    @Test
    void aChunkWhoseFreeingFailsEvenWithAnErrorLeavesTheOthersFreedAndTheTrimmingGoingOn() {
        AtomicInteger closes = new AtomicInteger();
        DirectChunks pool = new DirectChunks(8L * CHUNK, TimeUnit.MILLISECONDS.toNanos(100), failingFirstFree(closes));
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            pool.give(pool.take(3));
            await().atMost(Duration.ofSeconds(10)).until(() -> closes.get() == 3 && pool.memory().heldBytes() == 0);
            assertThat(log.events("direct.free.failed")).singleElement().satisfies(e -> {
                assertThat(LogCapture.fields(e)).containsEntry("chunks", 1);
                assertThat(e.getThrowableProxy().getClassName()).isEqualTo(StackOverflowError.class.getName());
            });

            pool.give(pool.take(2)); // the same trimming thread, or a new one: either frees them
            await().atMost(Duration.ofSeconds(10)).until(() -> closes.get() == 5 && pool.memory().heldBytes() == 0);
            assertThat(log.events("thread.uncaught")).as("nothing escaped the trimming thread").isEmpty();
        }
    }

    @Test
    void aTakeThatRunsOutOfMemoryFreesEveryChunkItMadeEvenWhenFreeingOneFails() {
        AtomicInteger closes = new AtomicInteger();
        IntFunction<ChunkMemory.Allocation> failingFree = failingFirstFree(closes);
        AtomicInteger allowed = new AtomicInteger(2);
        DirectChunks pool = new DirectChunks(8L * CHUNK, 0, size -> {
            if (allowed.getAndDecrement() <= 0) {
                throw new OutOfMemoryError("simulated: cannot allocate memory");
            }
            return failingFree.apply(size);
        });
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            assertThat(pool.take(3)).as("makes two, fails on the third: the message stays an array").isNull();
            assertThat(closes.get()).as("both made are freed, the one whose freeing failed and the other").isEqualTo(2);
            assertThat(pool.memory().heldBytes()).isZero();
            assertThat(pool.memory().usedBytes()).isZero();
            assertThat(log.events("direct.free.failed")).map(ILoggingEvent::getThrowableProxy)
                    .singleElement().satisfies(p -> assertThat(p.getClassName()).isEqualTo(StackOverflowError.class.getName()));
        }
    }

    /** Real chunks, the first of which throws a {@link StackOverflowError} once its memory is freed; counts the frees. */
    private static IntFunction<ChunkMemory.Allocation> failingFirstFree(AtomicInteger closes) {
        return size -> {
            ChunkMemory.Allocation real = ChunkMemory.allocate(size);
            return new ChunkMemory.Allocation(real.buffer(), () -> {
                real.free();
                if (closes.incrementAndGet() == 1) {
                    throw new StackOverflowError("test: freeing a chunk");
                }
            });
        };
    }
}
