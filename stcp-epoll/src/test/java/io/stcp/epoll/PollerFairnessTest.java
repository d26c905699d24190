package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * On one carrier, a poll loop that always finds events must not starve the rest: threads started
 * meanwhile by the poll loop (resumed read loops) or by platform threads. {@link StarvationProbe}
 * runs in a JVM of its own, whose scheduler has one carrier, on each transport. Before the epoll
 * poll loop gave way ({@link EpollPoller}), no probe was served within its second (four runs of
 * four); since, the longest wait is 20–70 ms, as on the JDK's transport. A probe may wait 5 s
 * before it counts as not served: one failed at 1 s with the machine's load at 9 (helpers' builds).
 */
class PollerFairnessTest {

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "jdk"})
    void aBusyServerLetsOtherThreadsRunOnOneCarrier(String transport, @TempDir Path dir) throws Exception {
        String output = OneCarrierJvm.run(dir, transport, StarvationProbe.class);
        assertThat(output).contains("round_trips ran=20 of 20", "starts ran=20 of 20");
    }
}
