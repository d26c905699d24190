package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.ConnectionRegistry;
import io.stcp.Durations;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.cluster.internal.RealClusterFanout;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A full refresh that takes so long that one twice as slow would let this node's entries expire
 * before they are announced again (more than half of {@code presenceTtl - presenceRefresh}) says
 * so: {@code cluster.presence.slow}, with how many names and how long, so that the operator can
 * raise the TTL before lookups start missing users.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceSlowRefreshTest {

    /** A presence store whose every announce takes 300 ms: a Redis slow for the node's size, played. */
    private static final class SlowPresence extends InMemoryBus {
        @Override
        public void announce(String nodeId, Scope scope, Collection<String> names) {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void aRefreshSlowForTheTtlIsReported() throws Exception {
        SlowPresence bus = new SlowPresence();
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        ClusterFanout cluster = null;
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName());
                TestClient client = TestClient.connect(server.address())) {
            Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
            registry.bindUser(registry.connections().iterator().next(), "alice");
            // Half of TTL - refresh is 100 ms; each refresh takes at least 300.
            cluster = ClusterFanout.start(ClusterConfig.builder("a").presenceRefresh(Duration.ofMillis(100))
                    .presenceTtl(Duration.ofMillis(300)).build(), registry, bus, bus);
            Awaitility.await("the slow refresh reported").atMost(Duration.ofSeconds(20))
                    .until(() -> !log.events("cluster.presence.slow").isEmpty());
            List<ILoggingEvent> events = log.events("cluster.presence.slow");
            Map<String, Object> fields = LogCapture.fields(events.getFirst());
            assertThat(events.getFirst().getLevel().toString()).isEqualTo("WARN");
            // Durations as the config reads them (Go syntax, the unit in the value), under the settings' names.
            assertThat(fields).containsEntry("node", "a").containsEntry("names", 1).containsEntry("presenceTtl", "300ms")
                    .containsEntry("presenceRefresh", "100ms").doesNotContainKeys("presenceTtlMs", "presenceRefreshMs", "tookMs");
            assertThat(Durations.parse((String) fields.get("took"))).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        } finally {
            if (cluster != null) {
                cluster.close();
            }
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
