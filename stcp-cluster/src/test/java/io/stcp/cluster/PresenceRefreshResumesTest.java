package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A full refresh of a large node is many calls to Redis; one of them failing now and then (a
 * flaky link, a Redis that refuses a write once in a while) must not make the node start over
 * from its first name each time: then a refresh longer than the gap between two failures would
 * never reach the names late in it, and their entries would expire. It goes on from where it
 * failed.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceRefreshResumesTest {
    private static final int GROUPS = 20_000; // 79 calls of 256 names

    @Test
    void aRefreshThatFailsNowAndThenStillAnnouncesEveryName() throws Exception {
        BatchedPresence bus = new BatchedPresence();
        AtomicInteger calls = new AtomicInteger();
        bus.beforeBatch = batch -> {
            if (calls.incrementAndGet() % 20 == 0) { // one call in twenty fails
                throw new BusException("redis: played failure of call " + calls.get());
            }
        };
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        ClusterFanout cluster = null;
        try (TestClient client = TestClient.connect(server.address())) {
            Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
            Sender s = registry.connections().iterator().next();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < GROUPS; i++) {
                names.add("group-" + i);
                registry.joinGroup(s, "group-" + i); // on the registry: the full refresh announces them
            }
            // Short back-off, and no periodic refresh during the test: only the one at start.
            cluster = ClusterFanout.start(ClusterConfig.builder("a").reconnectDelay(Duration.ofMillis(1))
                    .reconnectMaxDelay(Duration.ofMillis(10)).presenceRefresh(Duration.ofMinutes(1))
                    .presenceTtl(Duration.ofMinutes(2)).build(), registry, bus, bus);
            ClusterFanout c = cluster;
            Awaitility.await("every group announced").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                    .until(() -> bus.hasGroups(names));
            assertThat(c.stats().presenceFailures()).as("failed calls").isPositive();
        } finally {
            if (cluster != null) {
                cluster.close();
            }
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
