package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The readiness handshake between a native poller and a connection's reader and writer. */
class ReadinessTest {

    @Test
    void aClearedFlagWaitsForTheNextEdgeAndTimesOutWithoutOne() {
        Readiness r = new Readiness(owner -> {}, 0);
        r.clearReadable();
        assertThat(r.isReadable()).isFalse();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20))).isFalse();
        r.signal(true, false, false, false);
        assertThat(r.isReadable()).isTrue();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20))).isTrue();
        r.clearWritable();
        assertThat(r.awaitWritable(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20))).isFalse();
    }

    @Test
    void aHangUpIsStickyBecauseNoFurtherEdgeWillCome() {
        Readiness r = new Readiness(owner -> {}, 0);
        r.signal(true, false, false, true);
        r.clearReadable();
        r.clearWritable();
        assertThat(r.isReadable()).isTrue();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        assertThat(r.awaitWritable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
    }

    @Test
    void thePeerEndingItsOutputKeepsReadingReadyButNotWriting() {
        // A half-closed peer (EPOLLRDHUP) may never read: a write to it must wait for room, and
        // give up at its deadline, instead of finding the socket "writable" for good.
        Readiness r = new Readiness(owner -> {}, 0);
        r.signal(true, false, true, false);
        r.clearReadable();
        r.clearWritable();
        assertThat(r.isReadable()).isTrue();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        assertThat(r.awaitWritable(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20))).isFalse();
    }

    @Test
    void aSignalSaysWhetherItWokeAReaderOrRanTheCallback() throws Exception {
        // The epoll poll loop orders the threads it started by what its signals did (EpollPoller).
        Readiness r = new Readiness(owner -> {}, 0);
        assertThat(r.signal(true, true, false, false)).isZero(); // nobody waits, no callback
        r.clearReadable();
        AtomicInteger ran = new AtomicInteger();
        assertThat(r.onReadable(ran::incrementAndGet)).isTrue();
        assertThat(r.signal(false, true, false, false)).isZero(); // room only: the callback stays
        assertThat(r.signal(true, false, false, false)).isEqualTo(Readiness.RAN_CALLBACK);
        assertThat(ran).hasValue(1);

        r.clearReadable();
        Thread reader = Thread.ofVirtual().start(() -> r.awaitReadable(0));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> reader.getState() == Thread.State.WAITING);
        assertThat(r.signal(true, false, false, false)).isEqualTo(Readiness.WOKE_READER);
        reader.join(10_000);
        assertThat(reader.isAlive()).isFalse();
    }

    @Test
    void aWaitEndsAtItsDeadline() {
        Readiness r = new Readiness(owner -> {}, 0);
        r.clearWritable();
        long start = System.nanoTime();
        assertThat(r.awaitWritable(start + TimeUnit.MILLISECONDS.toNanos(50))).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
    }

    @Test
    void reportingAgainClearsTheReadFlagUntilTheOwnersReportComes() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        Readiness r = new Readiness(new Readiness.Owner() {
            @Override
            public void deregister(Readiness readiness) {}

            @Override
            public boolean reportAgain(Readiness readiness) {
                asked.incrementAndGet();
                return true;
            }
        }, 0);
        assertThat(r.isReadable()).isTrue();

        assertThat(r.reportAgain()).isTrue();

        assertThat(asked).hasValue(1);
        assertThat(r.isReadable()).as("until the report").isFalse();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20))).isFalse();
        r.signal(true, true, false, false); // the poller's report of a socket with input
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
    }

    @Test
    void anOwnerThatCannotReportAgainLeavesTheFlagAsItWas() throws Exception {
        Readiness r = new Readiness(owner -> {}, 0);
        assertThat(r.reportAgain()).isFalse();
        assertThat(r.isReadable()).isTrue();
        r.clearReadable();
        assertThat(r.reportAgain()).isFalse();
        assertThat(r.isReadable()).isFalse();
    }

    @Test
    void anOwnerThatFailsToReportAgainFailsTheReadinessSoThatTheWaitEndsAtOnce() throws Exception {
        // epoll_ctl failing: no report may come, nor any edge. A read flag left cleared would make
        // a socket with input look empty, and the reader wait for an edge that never comes.
        IOException injected = new IOException("injected: epoll_ctl failed");
        AtomicInteger deregistered = new AtomicInteger();
        Readiness r = new Readiness(new Readiness.Owner() {
            @Override
            public void deregister(Readiness readiness) {
                deregistered.incrementAndGet();
            }

            @Override
            public boolean reportAgain(Readiness readiness) throws IOException {
                throw injected;
            }
        }, 0);
        r.clearReadable(); // the socket looked empty: only an edge would tell the reader to go on

        assertThat(r.reportAgain()).as("to wait: the wait finds the failure").isTrue();

        assertThat(r.failure()).isSameAs(injected);
        assertThat(r.isReadable()).isTrue();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        assertThat(deregistered).hasValue(1);
    }

    @RepeatedTest(20)
    void anEdgeRacingTheWaiterIsNeverLost() throws Exception {
        Readiness r = new Readiness(owner -> {}, 0);
        r.clearReadable();
        CountDownLatch go = new CountDownLatch(1);
        Thread poller = Thread.ofVirtual().start(() -> {
            try {
                go.await();
            } catch (InterruptedException e) {
                return;
            }
            r.signal(true, false, false, false);
        });
        go.countDown();
        assertThat(r.awaitReadable(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        poller.join();
    }

    @Test
    void closeWakesBothWaitersAndDeregistersOnce() throws Exception {
        AtomicInteger deregistered = new AtomicInteger();
        Readiness r = new Readiness(owner -> deregistered.incrementAndGet(), 0);
        r.clearReadable();
        r.clearWritable();
        AtomicBoolean readWoke = new AtomicBoolean();
        AtomicBoolean writeWoke = new AtomicBoolean();
        Thread reader = Thread.ofVirtual().start(() -> readWoke.set(r.awaitReadable(0)));
        Thread writer = Thread.ofVirtual().start(() -> writeWoke.set(r.awaitWritable(0)));
        r.close();
        r.close();
        reader.join(10_000);
        writer.join(10_000);
        assertThat(readWoke).isTrue();
        assertThat(writeWoke).isTrue();
        assertThat(deregistered).hasValue(1);
    }
}
