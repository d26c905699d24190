package io.stcp.cluster.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.ConnectionRegistry;
import io.stcp.cluster.ClusterConfig;
import io.stcp.testing.LogCapture;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The cluster's rate-limited lines count what they held back as the server's do: {@code suppressed},
 * present only when above 0 (they wrote {@code heldBack}, 0 included). Shown on
 * {@code cluster.receive.malformed}, whose limiter lets one line a second through; this case
 * takes that second.
 */
class SuppressedKeyTest {

    @Test
    void theFirstLineHasNoCountAndTheNextCountsUnderSuppressed() {
        Delivery delivery = new Delivery(ClusterConfig.builder("a").build(), ConnectionRegistry.create(), () -> true);
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            delivery.deliver(new byte[] {1, 2, 3}); // no envelope
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
                delivery.tooLong(10, 5);
                return log.events("cluster.receive.malformed").size() >= 2;
            });
            List<ILoggingEvent> lines = log.events("cluster.receive.malformed");
            assertThat(LogCapture.fields(lines.get(0))).containsEntry("bytes", 3L)
                    .doesNotContainKeys("suppressed", "heldBack");
            assertThat(LogCapture.fields(lines.get(1))).doesNotContainKey("heldBack")
                    .hasEntrySatisfying("suppressed", n -> assertThat((Long) n).isPositive());
        }
    }
}
