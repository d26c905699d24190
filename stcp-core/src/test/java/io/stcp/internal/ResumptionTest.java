package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link Resumption}'s states without a thread: a suspension ended while it is being registered
 * leaves the loop to the reader thread, a read deadline set for one suspension never ends a later
 * one, and the generation never comes back to 0. There is no runner here, so a transition that
 * would start a thread fails the test; the suites resume real read loops on both transports.
 */
class ResumptionTest {

    @Test
    void aSuspensionEndedWhileItIsBeingRegisteredIsNotArmedAndStartsNoThread() {
        Resumption r = new Resumption(null);

        int g = r.suspend();
        r.run();       // the transport's callback, at once
        r.resume(g);   // and the deadline: both find it ended

        assertThat(r.arm(g)).as("the reader thread goes on itself").isFalse();
    }

    @Test
    void theDeadlineEndsTheSuspensionItWasSetFor() {
        Resumption r = new Resumption(null);

        int g = r.suspend();
        r.resume(g);

        assertThat(r.arm(g)).isFalse();
    }

    @Test
    void aSuspensionGivenUpGoesBackToRunningAndNothingEndsItLater() {
        Resumption r = new Resumption(null);

        int g = r.suspend();
        r.cancel();
        r.run();
        r.resume(g);

        assertThat(r.arm(g)).isFalse();
    }

    @Test
    void aDeadlineLeftFromAnEarlierSuspensionNeverEndsALaterOne() {
        Resumption r = new Resumption(null);
        int first = r.suspend();
        r.cancel(); // say the transport's input ended it, and the deadline stayed

        int second = r.suspend();
        r.resume(first);

        assertThat(second).isNotEqualTo(first);
        assertThat(r.arm(second)).as("still registering, then armed").isTrue();
        r.resume(first); // armed now: a thread would start if it matched
        assertThat(r.arm(second)).as("armed once").isFalse();
    }

    @Test
    void theGenerationSkipsZeroWhenItWraps() throws Exception {
        Resumption r = new Resumption(null);
        Field generation = Resumption.class.getDeclaredField("generation");
        generation.setAccessible(true);
        generation.setInt(r, Integer.MAX_VALUE - 1);

        assertThat(r.suspend()).isEqualTo(Integer.MAX_VALUE);
        r.cancel();
        int wrapped = r.suspend();

        assertThat(wrapped).isEqualTo(1);
        assertThat(r.arm(wrapped)).isTrue();
    }

    @Test
    void aThreadThatCannotStartLeavesTheSuspensionArmedForARetryAndTheResumerNeverSeesTheFailure() {
        FailingStarts r = new FailingStarts(2);
        int g = r.suspend();
        assertThat(r.arm(g)).isTrue();

        r.run(); // the poll loop signalling an edge: must not throw, its other events wait
        assertThat(r.failures).as("retry asked for").isEqualTo(1);
        assertThat(r.started).isZero();

        r.retry(); // the sweeper: fails again, asks again
        assertThat(r.failures).isEqualTo(2);
        assertThat(r.started).isZero();

        r.resume(g); // the deadline still watching it: this time the thread starts
        assertThat(r.started).isEqualTo(1);

        r.retry();   // the retry asked for second comes late: the loop runs, nothing more starts
        r.run();
        r.resume(g);
        assertThat(r.started).isEqualTo(1);
        assertThat(r.arm(g)).as("not armed any more").isFalse();
    }

    @Test
    void theReadTimeoutEndsAnArmedSuspensionOnceAndTheThreadThatGoesOnIsToldSo() {
        FailingStarts r = new FailingStarts(0);
        int g = r.suspend();
        r.timeOut(g); // still registering: the timeout's watch sees only armed ones, and ends none
        assertThat(r.started).isZero();
        assertThat(r.arm(g)).isTrue();

        r.timeOut(g);
        assertThat(r.started).isEqualTo(1);
        r.run();       // the transport's callback, and the deadline, come second: the loop runs
        r.resume(g);
        r.timeOut(g);
        assertThat(r.started).isEqualTo(1);

        assertThat(r.takeTimedOut()).as("the thread that goes on").isTrue();
        assertThat(r.takeTimedOut()).as("once").isFalse();
        assertThat(r.suspended()).isZero();
    }

    @Test
    void inputThatEndsTheSuspensionFirstLeavesTheTimeoutNothingToEnd() {
        FailingStarts r = new FailingStarts(0);
        int g = r.suspend();
        assertThat(r.arm(g)).isTrue();
        assertThat(r.suspended()).isEqualTo(g);

        r.run();
        r.timeOut(g);
        assertThat(r.started).isEqualTo(1);
        assertThat(r.takeTimedOut()).as("input ended it").isFalse();
    }

    @Test
    void aTimeoutWhoseThreadCannotStartLeavesTheSuspensionArmedForTheRetry() {
        FailingStarts r = new FailingStarts(1);
        int g = r.suspend();
        assertThat(r.arm(g)).isTrue();

        r.timeOut(g);
        assertThat(r.failures).isEqualTo(1);
        assertThat(r.suspended()).as("armed again").isEqualTo(g);

        r.retry(); // ends it as input would: the count starts again at the next suspension
        assertThat(r.started).isEqualTo(1);
        assertThat(r.takeTimedOut()).isFalse();
    }

    /**
     * The transport's callback on another thread while the reader arms its suspension, over and over
     * with the two a few random spins apart: either the callback came first (the arming fails, the
     * reader goes on) or the arming did (the callback starts a thread) — never neither, which would
     * leave the loop suspended with its callback taken. Bounded in rounds and time.
     */
    @Test
    void aCallbackRacingTheArmingEitherStartsAThreadOrLeavesTheLoopToTheReader() throws Exception {
        AtomicInteger started = new AtomicInteger();
        Resumption r = new Resumption(null) {
            @Override
            void startThread() {
                started.incrementAndGet();
            }
        };
        AtomicInteger go = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        AtomicInteger callbackSpins = new AtomicInteger();
        int rounds = 200_000;
        Thread poller = Thread.ofPlatform().name("test-poller").start(() -> {
            for (int round = 1; round <= rounds; round++) {
                while (go.get() < round) {
                    if (go.get() < 0) {
                        return;
                    }
                    Thread.onSpinWait();
                }
                spin(callbackSpins.get());
                r.run();
                done.set(round);
            }
        });
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        int round = 0;
        try {
            while (round < rounds && System.nanoTime() - deadline < 0) {
                round++;
                int g = r.suspend();
                int before = started.get();
                callbackSpins.set(random.nextInt(32));
                go.set(round);
                spin(random.nextInt(32));
                boolean armed = r.arm(g);
                while (done.get() < round) {
                    Thread.onSpinWait();
                }
                int starts = started.get() - before;
                assertThat(starts).as("round %d: armed %s, threads started", round, armed).isEqualTo(armed ? 1 : 0);
            }
        } finally {
            go.set(-1);
            poller.join(TimeUnit.SECONDS.toMillis(10));
        }
        assertThat(poller.isAlive()).isFalse();
        assertThat(round).isPositive();
    }

    private static void spin(int times) {
        for (int i = 0; i < times; i++) {
            Thread.onSpinWait();
        }
    }

    /** Its first {@code failing} thread starts fail as out of memory would; counts the rest. */
    private static final class FailingStarts extends Resumption {
        private int failing;
        int failures;
        int started;

        FailingStarts(int failing) {
            super(null);
            this.failing = failing;
        }

        @Override
        void startThread() {
            if (failing > 0) {
                failing--;
                throw new OutOfMemoryError("unable to start a thread (test)");
            }
            started++;
        }

        @Override
        void retryLater(Throwable failure) {
            assertThat(failure).isInstanceOf(OutOfMemoryError.class);
            failures++;
        }
    }
}
