package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@link WriteIdleTask}, swept by the test at times it chooses: a write counts from the sweep that
 * sees the bytes written move (its own clock read, not the scan's), so the action never runs before
 * a whole interval without a write, and a run starts the interval again.
 */
class WriteIdleTaskTest {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40_000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 9_000);
    private static final long INTERVAL = 1_000_000;

    private final MemoryTransport memory = new MemoryTransport();
    private final RealConnection conn = ConnectionOpener.inMemory(memory, PEER, LOCAL);
    private final AtomicInteger runs = new AtomicInteger();

    @Test
    void aWriteSeenByASweepPutsTheNextRunAWholeIntervalAfterThatSweep() throws Exception {
        WriteIdleTask task = new WriteIdleTask(conn, INTERVAL, runs::incrementAndGet);
        long scan = System.nanoTime(); // a scan's clock, read before it sweeps the task

        conn.write(new byte[10], 0, 10); // meanwhile: the scan's clock is older than the write
        long before = System.nanoTime();
        assertThat(task.sweep(scan)).isTrue(); // sees the write: idle from the sweep's own clock read
        long seen = System.nanoTime();
        task.sweep(before + INTERVAL - 1);
        assertThat(runs).as("an interval after the scan's clock, but not after the write").hasValue(0);

        long ran = seen + INTERVAL;
        task.sweep(ran);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(runs).hasValue(1));

        task.sweep(ran + INTERVAL / 2);
        assertThat(runs).as("the run starts the interval again").hasValue(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            task.sweep(ran + INTERVAL); // started once the first run has returned
            return runs.get() == 2;
        });
    }

    @Test
    void aConnectionThatKeepsWritingNeverRunsTheActionAndAClosedOneEndsTheTask() throws Exception {
        WriteIdleTask task = new WriteIdleTask(conn, INTERVAL, runs::incrementAndGet);
        long t = System.nanoTime();
        for (int i = 1; i <= 20; i++) {
            conn.write(new byte[1], 0, 1);
            assertThat(task.sweep(t + i * INTERVAL / 2)).isTrue();
        }
        assertThat(runs).hasValue(0);

        conn.close(io.stcp.CloseReason.CLOSED);
        assertThat(task.sweep(t + 100 * INTERVAL)).as("swept no more").isFalse();
        assertThat(runs).hasValue(0);
    }
}
