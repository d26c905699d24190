package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The sweeper runs every task at the shortest interval any task asks for, and a task that asks for
 * a shorter one than the thread sleeps now wakes it at once: a write deadline added while only a
 * heartbeat of minutes was watched is not checked minutes late.
 */
class SweeperTest {

    @Test
    void aTaskWithAShorterTickWakesASweeperParkedForALongOne() throws Exception {
        Sweeper sweeper = new Sweeper("test-sweeper");
        CountDownLatch fastSwept = new CountDownLatch(3);
        // done once the fast one is
        Sweeper.Task slow = Sweeper.every(TimeUnit.MINUTES.toNanos(10), now -> fastSwept.getCount() > 0);
        Sweeper.Task fast = Sweeper.every(TimeUnit.MILLISECONDS.toNanos(1), now -> {
            fastSwept.countDown();
            return fastSwept.getCount() > 0;
        });
        sweeper.add(slow); // the thread parks for ten minutes
        assertThat(sweeper.tickNanos()).isEqualTo(TimeUnit.MINUTES.toNanos(10));

        sweeper.add(fast);
        assertThat(sweeper.tickNanos()).isEqualTo(TimeUnit.MILLISECONDS.toNanos(1));
        assertThat(fastSwept.await(10, TimeUnit.SECONDS)).as("swept at its own tick, not after ten minutes").isTrue();

        sweeper.add(Sweeper.every(TimeUnit.MILLISECONDS.toNanos(1), now -> false)); // wakes it again: the slow one, done, leaves
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // the thread ends
    }

    /**
     * An {@link Error} in a scan itself, outside any task (out of memory while it walks them), does
     * not end the sweeper's thread: it used to, and as the thread was still taken for running, no
     * task of that server (write deadlines, heartbeats) ran again.
     */
    @Test
    void anErrorInAScanDoesNotEndTheThreadAndTheTasksRunAtTheNextTick() throws Exception {
        Sweeper sweeper = new Sweeper("test-sweeper");
        AtomicInteger scans = new AtomicInteger();
        sweeper.beforeScan = () -> {
            if (scans.incrementAndGet() == 1) {
                throw new NoClassDefFoundError("test: io/stcp/internal/Sweeper$1");
            }
        };
        CountDownLatch swept = new CountDownLatch(3);
        sweeper.add(Sweeper.every(TimeUnit.MILLISECONDS.toNanos(1), now -> {
            swept.countDown();
            return swept.getCount() > 0;
        }));
        assertThat(swept.await(10, TimeUnit.SECONDS)).as("the task swept after the failed scan").isTrue();
        assertThat(scans.get()).as("scans").isGreaterThan(1);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sweeper.size() == 0); // the thread ends
    }
}
