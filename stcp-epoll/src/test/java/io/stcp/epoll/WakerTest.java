package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.OwnJvm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A waker unparks the poll loop only once it has parked, so that a give-way really gives the
 * carrier up ({@link EpollPoller#unparkOnceParked}). {@link ParkedUnparkProbe} runs in a JVM with
 * one carrier, where that is visible: with a plain unpark in its place, the park returned on the
 * permit, without running the thread queued before it, in most of its 2,000 rounds.
 */
class WakerTest {

    @Test
    void aGiveWayParkRunsWhatWasQueuedBeforeTheLoopGoesOn(@TempDir Path dir) throws Exception {
        String output = OwnJvm.run(dir.resolve("probe.log"), 120,
                List.of("-Djdk.virtualThreadScheduler.parallelism=1"), ParkedUnparkProbe.class);
        assertThat(output).contains("early=0 of " + ParkedUnparkProbe.ROUNDS);
    }
}
