package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SocketPair;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Per-connection WARN lines other than conn.exit are rate-limited per event name, as conn.exit is per reason. */
class ConnectionWarnLimitTest {

    @Test
    void aFailureOnEveryConnectionCostsTenLinesPerIntervalAndTheNextOneCountsTheRest() throws Exception {
        AtomicLong now = new AtomicLong(5_000);
        ExitLog limits = new ExitLog(now::get);
        try (SocketPair pair = SocketPair.open(); LogCapture log = LogCapture.of("io.stcp.connection")) {
            for (int i = 0; i < 25; i++) {
                limits.warn("conn.hook.failed", pair.server).addKeyValue("hook", "start").log();
            }
            for (int i = 0; i < 3; i++) {
                limits.warn("conn.sender.failed", pair.server).log(); // another event has its own budget
            }
            now.addAndGet(TimeUnit.SECONDS.toNanos(ExitLog.INTERVAL_SECONDS));
            limits.warn("conn.hook.failed", pair.server).log();

            List<ILoggingEvent> hooks = log.events("conn.hook.failed");
            assertThat(hooks).hasSize(ExitLog.PERMITS + 1);
            assertThat(hooks).allSatisfy(e -> assertThat(e.getLevel().toString()).isEqualTo("WARN"));
            assertThat(LogCapture.fields(hooks.get(0))).containsEntry("conn", pair.server.id())
                    .containsEntry("hook", "start").doesNotContainKey("suppressed");
            assertThat(LogCapture.fields(hooks.get(ExitLog.PERMITS))).containsEntry("suppressed", 15L);
            assertThat(log.events("conn.sender.failed")).hasSize(3);
        }
    }
}
