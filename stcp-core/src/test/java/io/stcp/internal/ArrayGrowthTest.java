package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/** {@link ArrayGrowth}: how growing arrays of several connections share the inbound budget. */
class ArrayGrowthTest {
    private static final int ARRIVED = 256 << 10;
    private static final int END = 6 << 20;
    private static final long FOURFOLD = 4L * ARRIVED - ConnectionInput.BUFFER_SIZE;
    private static final long QUARTER_MORE = ARRIVED + ARRIVED / 4 - ConnectionInput.BUFFER_SIZE;

    @Test
    void growthsAtTheSameMomentCannotBothTakeFourfoldFromRoomBelowHalfForOne() throws Exception {
        // Other connections hold 6.5 of 16 MiB: below half there is room for one array of 1 MiB
        // (fourfold the 256 KiB that arrived), not two. Two arrays grow at the same moment: while
        // the test holds the budget's lock, both get as far as it. The old code had each read the
        // used bytes without the lock first: both saw room for fourfold, and both took it.
        InboundBudget budget = new InboundBudget(16L << 20);
        long others = 13L << 19;
        budget.reserve(others, true, null, 0, () -> true);
        grow(new InboundBudget(16L << 20)); // the classes loaded: no thread waits for another's loading below

        CountDownLatch locked = new CountDownLatch(1);
        CountDownLatch unlock = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().start(() -> {
            try {
                // More than fits: the reservation asks, under the lock, whether its connection is open.
                budget.reserve(budget.limitBytes(), true, null, 0, () -> {
                    locked.countDown();
                    awaitQuietly(unlock);
                    return false;
                });
            } catch (ClosedChannelException expected) {
                // "closed": it gives up, and unlocks
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
        AtomicInteger grown = new AtomicInteger();
        Thread first = Thread.ofPlatform().start(() -> grown.addAndGet(grow(budget)));
        Thread second = Thread.ofPlatform().start(() -> grown.addAndGet(grow(budget)));
        await().atMost(Duration.ofSeconds(10)).until(() -> waitsForALock(first) && waitsForALock(second));

        unlock.countDown();
        for (Thread t : new Thread[] {holder, first, second}) {
            t.join(10_000);
            assertThat(t.isAlive()).isFalse();
        }
        // One took fourfold, within half; the other, seeing it, a quarter more than what arrived.
        assertThat(budget.usedBytes() - others).isEqualTo(FOURFOLD + QUARTER_MORE);
        assertThat(grown.get()).isEqualTo(4 * ARRIVED + ARRIVED + ARRIVED / 4);
    }

    @Test
    void aGrowthWithinHalfTheBudgetTakesFourfoldAndOnePastItAQuarterMore() throws Exception {
        InboundBudget budget = new InboundBudget(16L << 20);
        budget.reserve(7L << 20, true, null, 0, () -> true);
        assertThat(grow(budget)).isEqualTo(4 * ARRIVED);        // 8 MiB - 4 KiB: within half
        assertThat(grow(budget)).isEqualTo(ARRIVED + ARRIVED / 4);
        assertThat(budget.usedBytes()).isEqualTo((7L << 20) + FOURFOLD + QUARTER_MORE);
    }

    @Test
    void aGrowthThatDoesNotCompleteItsValueTakesTheLastFifthOnlyOnceEveryValueHoldingBytesWaits() throws Exception {
        // 10 MiB, of which the last fifth (2 MiB) is kept for growths that complete their values.
        // Two values hold 4 and 3 MiB; neither growth below completes its value (a line whose
        // delimiter is not buffered yet).
        InboundBudget budget = new InboundBudget(10L << 20);
        ArrayGrowth first = holding(budget, 4 << 20);
        ArrayGrowth second = holding(budget, 3 << 20);

        // The second needs 2 MiB more: it would go into the last fifth while the first still
        // reads (its peer may finish it, and its last step needs that fifth): it waits.
        CompletableFuture<Void> secondGrows = waitingAsync(budget, second, (5 << 20) + ConnectionInput.BUFFER_SIZE);
        assertThat(budget.usedBytes()).isEqualTo(7L << 20);

        // The first needs 1.5 MiB more and waits too: no value can free anything now. The old code
        // left both waiting until their deadlines; now one of them takes half the last fifth, and only one.
        CompletableFuture<Void> firstGrows = reserveAsync(first, (11 << 19) + ConnectionInput.BUFFER_SIZE);
        firstGrows.get(10, TimeUnit.SECONDS);
        assertThat(budget.usedBytes()).isEqualTo(17L << 19);
        assertThat(budget.waiters()).isEqualTo(1);
        assertThat(secondGrows).isNotDone();

        // Its value is read: the second takes the room, and half the last fifth with it if it needs it.
        assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, 5L << 20);
    }

    @Test
    void aStepTakenWhileEveryValueHoldingBytesWaitsIsCutToTheRoomThereIs() throws Exception {
        // 10 MiB; two values hold 4 and 4.5 MiB, the second waits for 1.5 MiB more. The first's
        // array is full and its line goes on: a quarter more (1 MiB) does not fit the nine tenths
        // it may take now. The old code waited, both until their deadlines (a line a few KiB past
        // that array waited so); now the step is cut to the half MiB there is.
        InboundBudget budget = new InboundBudget(10L << 20);
        ArrayGrowth first = holding(budget, 4 << 20);
        ArrayGrowth second = holding(budget, 9 << 19);
        CompletableFuture<Void> secondGrows = waitingAsync(budget, second, (6 << 20) + ConnectionInput.BUFFER_SIZE);

        int full = (4 << 20) + ConnectionInput.BUFFER_SIZE;
        CompletableFuture<Integer> firstGrows = growAsync(first, full, 8 << 20);
        assertThat(firstGrows.get(10, TimeUnit.SECONDS)).isEqualTo((9 << 19) + ConnectionInput.BUFFER_SIZE);
        assertThat(budget.usedBytes()).isEqualTo(9L << 20);

        // It holds half the reserve now; the second waits until it is read.
        assertThat(secondGrows).isNotDone();
        assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, 6L << 20);
    }

    @Test
    void aStepTakenWhileEveryValueHoldingBytesWaitsGoesIntoTheLastTenthWithTheBytesThatArrivedOnly() throws Exception {
        // 10 MiB; two values hold 4.5 MiB each, the second waits for more. The first's array is
        // full, nine tenths are spent, and 256 KiB of its peer's next bytes wait in its socket: its
        // step is cut to them, in the last tenth (bytes sent, not a guess), and the rest stays free.
        assertTheFirstsStepIsCutToTheBytesInItsSocket(9 << 19, false);
    }

    @Test
    void aStepOfAValueOfAnnouncedLengthIsCutToTheBytesInItsSocketToo() throws Exception {
        // As above, for a readBytes value (its length announced: 8 MiB) of which 1 MiB has
        // arrived, the second holding 8 MiB. The old code counted the bytes in the socket among
        // those the array already held, and asked for a byte more than they fill: the step was
        // not cut, and one of the two failed.
        assertTheFirstsStepIsCutToTheBytesInItsSocket(1 << 20, true);
    }

    /**
     * 10 MiB: the first value holds {@code firstBytes}, the second the rest of nine tenths and
     * waits for half a MiB more; the first's array is full, and 256 KiB of its peer's next bytes
     * wait in its socket. Its step is cut to them; the second grows once the first is read.
     */
    private static void assertTheFirstsStepIsCutToTheBytesInItsSocket(int firstBytes, boolean socketCounts) throws Exception {
        InboundBudget budget = new InboundBudget(10L << 20);
        MemoryTransport socket = new MemoryTransport();
        ArrayGrowth first = holding(budget, firstBytes, socket);
        int secondBytes = (9 << 20) - firstBytes;
        ArrayGrowth second = holding(budget, secondBytes);
        CompletableFuture<Void> secondGrows = waitingAsync(budget, second,
                secondBytes + (1 << 19) + ConnectionInput.BUFFER_SIZE);
        socket.feed(new byte[256 << 10]);

        int full = firstBytes + ConnectionInput.BUFFER_SIZE;
        CompletableFuture<Integer> firstGrows = growAsync(first, full, 8 << 20, socketCounts);
        assertThat(firstGrows.get(10, TimeUnit.SECONDS)).isEqualTo(full + (256 << 10));
        assertThat(budget.usedBytes()).isEqualTo((9L << 20) + (256 << 10));

        assertThat(secondGrows).isNotDone();
        assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, secondBytes + (1L << 19));
    }

    @Test
    void aWaitingStepLooksAgainAtTheBytesArrivedOnceEveryValueHoldingBytesWaits() throws Exception {
        // As above, but the first's step waits before its peer's next bytes arrive: the second
        // still reads then. 256 KiB reach its socket while it waits; then the second waits too.
        // The old code cut the step with what had arrived when it began (nothing), found no room
        // for either, and failed the first (FrameTooLongException) though its line ends within
        // those bytes and both lines fit the budget together; now the step looks at the socket
        // again and is cut to them, as if they had been there at once.
        InboundBudget budget = new InboundBudget(10L << 20);
        MemoryTransport socket = new MemoryTransport();
        ArrayGrowth first = holding(budget, 9 << 19, socket);
        ArrayGrowth second = holding(budget, 9 << 19);

        int full = (9 << 19) + ConnectionInput.BUFFER_SIZE;
        CompletableFuture<Integer> firstGrows = growAsync(first, full, 8 << 20);
        await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        socket.feed(new byte[256 << 10]);
        CompletableFuture<Void> secondGrows = reserveAsync(second, (5 << 20) + ConnectionInput.BUFFER_SIZE);

        assertThat(firstGrows.get(10, TimeUnit.SECONDS)).isEqualTo(full + (256 << 10));
        assertThat(budget.usedBytes()).isEqualTo((9L << 20) + (256 << 10));
        await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        assertThat(secondGrows).isNotDone();
        assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, 5L << 20);
    }

    @Test
    void theValueThatTookTheReserveLeavesHalfOfItToGrowthsThatCompleteTheirValues() throws Exception {
        // As above: 10 MiB, two values stuck at 4 and 3 MiB, the first takes the reserve (8.5 MiB used).
        InboundBudget budget = new InboundBudget(10L << 20);
        ArrayGrowth first = holding(budget, 4 << 20);
        ArrayGrowth second = holding(budget, 3 << 20);
        CompletableFuture<Void> secondGrows = waitingAsync(budget, second, (5 << 20) + ConnectionInput.BUFFER_SIZE);
        reserveAsync(first, (11 << 19) + ConnectionInput.BUFFER_SIZE).get(10, TimeUnit.SECONDS);
        assertThat(budget.usedBytes()).isEqualTo(17L << 19);

        // The first one's peer stops: it holds half the fifth and reads. A third value about to
        // finish: its last step, a tenth of the budget, is granted at once. (With the whole fifth
        // to the first, it took the rest, and a value about to finish waited until its deadline.)
        CompletableFuture<ArrayGrowth> third = CompletableFuture.supplyAsync(() -> {
            try {
                return holding(budget, 1 << 20);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().start(runnable));
        third.get(10, TimeUnit.SECONDS).release();
        assertThat(budget.usedBytes()).isEqualTo(17L << 19);
        assertThat(secondGrows).isNotDone();

        // Its next step would take the rest of the fifth, for bytes not sent: it has no room, nor
        // the second, and both wait; neither could free any. Rather than both waiting until their
        // deadlines, the one holding the most (the first, 5.5 MiB) fails at once, and gives its
        // part back as its reader does: the second takes its step.
        CompletableFuture<Void> firstGrowsOn = reserveAsync(first, (13 << 19) + ConnectionInput.BUFFER_SIZE);
        assertThatThrownBy(() -> firstGrowsOn.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasRootCauseInstanceOf(io.stcp.framing.FrameTooLongException.class)
                .hasRootCauseMessage("a value holding " + (11 << 19) + " bytes of the server's inbound budget of "
                        + (10 << 20) + " bytes, the most of the values waiting in it, each for more, needs at least "
                        + (1 << 20) + " bytes more, and none of them has room: it fails, and the others go on"
                        + " (ServerConfig.inboundBudget)");
        assertTheSecondGrowsOnceTheFirstIsRead(budget, first, second, secondGrows, 5L << 20);
        assertThat(budget.waiters()).isZero();
    }

    @Test
    void whenNoValueHoldingBytesHasRoomTheOneHoldingTheMostFailsAndASmallerOneThatLookedLastCompletes() throws Exception {
        // 10 MiB: a large value holds 6 MiB, a small one 2 MiB, and each needs 2 MiB more before
        // its end (a line whose delimiter is not buffered), which neither nine tenths nor the
        // bytes arrived (none) give either. The small one waits first; the large one's wait makes
        // every value holding bytes wait, it looks first, and the small one, woken, looks last.
        // The old code failed the last to look, the small one: the large value, a peer's huge
        // frame, stayed and the small one's honest line failed. Now the large one fails, frees
        // the most, and the small one's step is granted; its line then completes.
        InboundBudget budget = new InboundBudget(10L << 20);
        ArrayGrowth large = holding(budget, 6 << 20);
        ArrayGrowth small = holding(budget, 2 << 20);
        CompletableFuture<Void> smallGrows = waitingAsync(budget, small, (4 << 20) + ConnectionInput.BUFFER_SIZE);

        CompletableFuture<Void> largeGrows = reserveAsync(large, (8 << 20) + ConnectionInput.BUFFER_SIZE);
        assertThatThrownBy(() -> largeGrows.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasRootCauseInstanceOf(io.stcp.framing.FrameTooLongException.class)
                .rootCause().hasMessageStartingWith("a value holding " + (6 << 20) + " bytes");
        assertThat(smallGrows).isNotDone();
        large.release(); // as its reader does once its value failed
        smallGrows.get(10, TimeUnit.SECONDS);
        small.reserve((5 << 20) + ConnectionInput.BUFFER_SIZE, true); // its delimiter arrives: the last step
        assertThat(budget.usedBytes()).isEqualTo(5L << 20);
        small.release();
        assertThat(budget.usedBytes()).isZero();
        assertThat(budget.waiters()).isZero();
    }

    @Test
    void theValueChosenToFailIsCutInsteadWhenItsBytesArriveBeforeItLooksAgain() throws Exception {
        // 10 MiB: a large value holds 6 MiB, a small one 3 MiB and waits for 1 MiB more (nine
        // tenths hold neither step). The large one's array is full; it looks while every value
        // holding bytes waits, with no byte of its peer's there yet, and finds no room; the small
        // one, woken, looks last and finds none either: the large one is chosen to fail, and woken.
        // 256 KiB of its peer's have reached it by then (its transport tells them from its second
        // look): it fits first, cut to them into the last tenth, and does not fail; nor does the
        // small one, which waits until the large one is read.
        InboundBudget budget = new InboundBudget(10L << 20);
        MemoryTransport socket = new MemoryTransport();
        socket.feed(new byte[256 << 10]);
        AtomicInteger looks = new AtomicInteger();
        Transport arrivingLate = new OverTransport(socket) {
            @Override
            public int availableToRead() {
                return looks.getAndIncrement() == 0 ? 0 : under.availableToRead();
            }
        };
        ArrayGrowth large = holding(budget, 6 << 20, arrivingLate);
        ArrayGrowth small = holding(budget, 3 << 20);
        CompletableFuture<Void> smallGrows = waitingAsync(budget, small, (4 << 20) + ConnectionInput.BUFFER_SIZE);

        int full = (6 << 20) + ConnectionInput.BUFFER_SIZE;
        assertThat(growAsync(large, full, 8 << 20).get(10, TimeUnit.SECONDS)).isEqualTo(full + (256 << 10));
        assertThat(looks.get()).as("the large one looked, found no room, and looked again").isEqualTo(2);
        assertThat(budget.usedBytes()).isEqualTo((9L << 20) + (256 << 10));
        assertThat(smallGrows).isNotDone();
        assertTheSecondGrowsOnceTheFirstIsRead(budget, large, small, smallGrows, 4L << 20);
        assertThat(budget.waiters()).isZero();
    }

    @Test
    void aStepCutIntoTheReserveWithTheBytesArrivedLeavesItWithTheValueThatHoldsIt() throws Exception {
        // 10 MiB; the first value holds 4.5 MiB, the second 3 MiB and waits for a quarter more.
        // The first's step makes every value holding bytes wait: it takes the reserve (8.5 MiB).
        InboundBudget budget = new InboundBudget(10L << 20);
        MemoryTransport socket = new MemoryTransport();
        ArrayGrowth first = holding(budget, 9 << 19);
        ArrayGrowth second = holding(budget, 3 << 20, socket);
        int full = (3 << 20) + ConnectionInput.BUFFER_SIZE;
        CompletableFuture<Integer> secondGrows = growAsync(second, full, 8 << 20);
        await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == 1);
        reserveAsync(first, (11 << 19) + ConnectionInput.BUFFER_SIZE).get(10, TimeUnit.SECONDS);
        assertThat(budget.usedBytes()).isEqualTo(17L << 19);

        // 200 KiB reach the second's socket; the first waits for 1 MiB more, more than it may take:
        // every value holding bytes waits, and the second's step is cut to those bytes, into the
        // reserve the first holds (8.7 MiB).
        socket.feed(new byte[200 << 10]);
        CompletableFuture<Void> firstGrowsOn = reserveAsync(first, (13 << 19) + ConnectionInput.BUFFER_SIZE);
        assertThat(secondGrows.get(10, TimeUnit.SECONDS)).isEqualTo(full + (200 << 10));

        // The second's next step, a guess of 200 KiB more that its peer has not sent: the reserve
        // is the first's still, so it may not go past four fifths. The old code made the second
        // the reserve's holder by that cut: the guess was granted at once, the two values in
        // half the reserve, and the first (its holder) waited on though neither could free any.
        // Now both wait, neither has room, and the one holding the most (the first) fails.
        CompletableFuture<Void> secondGuesses = reserveAsync(second, full + (400 << 10));
        assertThatThrownBy(() -> firstGrowsOn.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasRootCauseInstanceOf(io.stcp.framing.FrameTooLongException.class);
        assertThat(secondGuesses).isNotDone();
        first.release();
        secondGuesses.get(10, TimeUnit.SECONDS);
        assertThat(budget.usedBytes()).isEqualTo((3L << 20) + (400 << 10));
        second.release();
        assertThat(budget.usedBytes()).isZero();
    }

    /** A value's array that holds {@code bytes} of {@code budget}, by a growth that completes it. */
    static ArrayGrowth holding(InboundBudget budget, int bytes) throws IOException {
        return holding(budget, bytes, new MemoryTransport());
    }

    /** As {@link #holding(InboundBudget, int)}, its connection reading from {@code socket}. */
    static ArrayGrowth holding(InboundBudget budget, int bytes, Transport socket) throws IOException {
        ArrayGrowth growth = new ArrayGrowth(new ConnectionInput(socket, true, budget, 0, 0, () -> {}));
        growth.reserve(bytes + ConnectionInput.BUFFER_SIZE, true);
        return growth;
    }

    /** A growth of {@code growth}'s array to {@code length}, which does not complete its value, on a thread of its own. */
    private static CompletableFuture<Void> reserveAsync(ArrayGrowth growth, int length) {
        return CompletableFuture.runAsync(() -> {
            try {
                growth.reserve(length, false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().start(runnable));
    }

    /** As {@link #reserveAsync}, once the budget has no room for it: the growth waits. */
    static CompletableFuture<Void> waitingAsync(InboundBudget budget, ArrayGrowth growth, int length) {
        int waiters = budget.waiters();
        CompletableFuture<Void> grows = reserveAsync(growth, length);
        await().atMost(Duration.ofSeconds(10)).until(() -> budget.waiters() == waiters + 1);
        return grows;
    }

    /** A growth of {@code growth}'s full array of {@code full} bytes towards {@code end}, on a thread of its own: the length it reaches. */
    static CompletableFuture<Integer> growAsync(ArrayGrowth growth, int full, int end) {
        return growAsync(growth, full, end, false);
    }

    /** As {@link #growAsync(ArrayGrowth, int, int)}; {@code socketCounts}: the value's length was announced. */
    static CompletableFuture<Integer> growAsync(ArrayGrowth growth, int full, int end, boolean socketCounts) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return growth.grow(full, end, socketCounts);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().daemon().start(runnable));
    }

    /**
     * {@code first}'s value is read (released): the second's growth, which waited, is granted, the
     * budget then holding {@code used}; then the second's value is read too, and nothing is held.
     */
    static void assertTheSecondGrowsOnceTheFirstIsRead(InboundBudget budget, ArrayGrowth first, ArrayGrowth second,
                                                       CompletableFuture<Void> secondGrows, long used)
            throws Exception {
        first.release();
        secondGrows.get(10, TimeUnit.SECONDS);
        assertThat(budget.usedBytes()).isEqualTo(used);
        second.release();
        assertThat(budget.usedBytes()).isZero();
    }

    @Test
    void aBudgetAsLargeAsALongHoldsGrowsAsIfThereWereNone() throws Exception {
        // ServerConfig takes any inboundBudget >= 0; Long.MAX_VALUE, "no limit" to an operator,
        // made the longest array the budget holds overflow, and every step fail.
        InboundBudget budget = new InboundBudget(Long.MAX_VALUE);
        ConnectionInput input = new ConnectionInput(new MemoryTransport(), true, budget, 0, 0, () -> {});
        ArrayGrowth line = new ArrayGrowth(input);
        assertThat(line.grow(64 << 10, 4 << 20, false)).isEqualTo(256 << 10);
        ArrayGrowth frame = new ArrayGrowth(input);
        assertThat(frame.grow(64 << 10, 1 << 20, true)).isEqualTo(256 << 10);
        line.release();
        frame.release();
        assertThat(budget.usedBytes()).isZero();
    }

    /** A growth of an array that is full with the {@link #ARRIVED} bytes that arrived of a value of {@link #END}. */
    @Test
    void aStepIsNoLongerThanTheWholeBudgetHoldsAndAValueThatCannotFitFailsBeforeAStep() throws Exception {
        // 1 MiB: past half, a quarter more than 900 KiB (1,125 KiB) is more than the budget and a
        // buffer hold; the step is cut to that, and the line may still fit. A value announced
        // longer than that fails before anything is reserved for it.
        InboundBudget budget = new InboundBudget(1 << 20);
        budget.reserve(600 << 10, true, null, 0, () -> true);
        ConnectionInput input = new ConnectionInput(new MemoryTransport(), true, budget, 0, 0, () -> {});
        ArrayGrowth line = new ArrayGrowth(input);
        budget.release(600 << 10, null);
        assertThat(line.grow(900 << 10, 4 << 20, false)).isEqualTo((1 << 20) + ConnectionInput.BUFFER_SIZE);
        assertThatThrownBy(() -> line.grow((1 << 20) + ConnectionInput.BUFFER_SIZE, 4 << 20, false))
                .isInstanceOf(io.stcp.framing.FrameTooLongException.class)
                .hasMessageStartingWith("a value of at least " + ((1 << 20) + ConnectionInput.BUFFER_SIZE + 1) + " bytes");
        line.release();

        ArrayGrowth announced = new ArrayGrowth(input);
        int end = (1 << 20) + ConnectionInput.BUFFER_SIZE + 1;
        assertThatThrownBy(() -> announced.grow(1000, end, true)).isInstanceOf(io.stcp.framing.FrameTooLongException.class)
                .hasMessageStartingWith("a value of at least " + end + " bytes");
        assertThat(budget.usedBytes()).as("nothing reserved for it").isZero();
    }

    private static int grow(InboundBudget budget) {
        ConnectionInput input = new ConnectionInput(new MemoryTransport(), true, budget, 0, 0, () -> {});
        try {
            return new ArrayGrowth(input).grow(ARRIVED, END, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether {@code t} is parked on a lock (the budget's: nothing else these threads do parks). */
    private static boolean waitsForALock(Thread t) {
        return LockSupport.getBlocker(t) instanceof AbstractQueuedSynchronizer;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
