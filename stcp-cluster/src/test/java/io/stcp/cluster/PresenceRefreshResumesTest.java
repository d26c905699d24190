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
 * failed; and after a connect, which begins a new refresh, from the names the one it replaces had
 * not reached.
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
        ClusterStats stats = announceEveryGroup(bus, GROUPS);
        assertThat(stats.presenceFailures()).as("failed calls").isPositive();
    }

    /**
     * The same when the subscription is lost and made again every five calls (a flaky link; a
     * Redis that drops the subscriber again and again, as it does whenever one message passes its
     * pub/sub output limit, which anyone allowed {@code PUBLISH} can send): each connect begins a
     * new refresh, as Redis may have lost everything, and that one used to start over from the
     * first name, so the names late in it were never announced.
     */
    @Test
    void aRefreshInterruptedByReconnectsMoreOftenThanItTakesStillAnnouncesEveryName() throws Exception {
        BatchedPresence bus = new BatchedPresence();
        AtomicInteger calls = new AtomicInteger();
        bus.beforeBatch = batch -> {
            if (calls.incrementAndGet() % 5 == 0) { // the subscription lost and made again, before this call
                bus.listener.onDisconnected("played");
                bus.listener.onConnected();
            }
        };
        ClusterStats stats = announceEveryGroup(bus, 5_000); // 20 calls
        assertThat(stats.reconnects()).as("reconnects while the groups were announced").isGreaterThanOrEqualTo(3);
    }

    /** Starts a node with {@code groups} groups on {@code bus}, waits until every one is announced; returns its stats then. */
    private static ClusterStats announceEveryGroup(BatchedPresence bus, int groups) throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        ClusterFanout cluster = null;
        try (TestClient client = TestClient.connect(server.address())) {
            Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
            Sender s = registry.connections().iterator().next();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < groups; i++) {
                names.add("group-" + i);
                registry.joinGroup(s, "group-" + i); // on the registry: the full refresh announces them
            }
            // Short back-off, and no periodic refresh during the test: only the one at start.
            cluster = ClusterFanout.start(ClusterConfig.builder("a").reconnectDelay(Duration.ofMillis(1))
                    .reconnectMaxDelay(Duration.ofMillis(10)).presenceRefresh(Duration.ofMinutes(1))
                    .presenceTtl(Duration.ofMinutes(2)).build(), registry, bus, bus);
            Awaitility.await("every group announced").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                    .until(() -> bus.hasGroups(names));
            return cluster.stats();
        } finally {
            if (cluster != null) {
                cluster.close();
            }
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
