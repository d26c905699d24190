package io.stcp.cluster;

import static io.stcp.cluster.internal.RealClusterFanout.MAX_PENDING;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A burst of more distinct names than {@code MAX_PENDING} bound while a large node's full refresh
 * is under way, with Redis answering at its pace, is announced as those names: it must not make
 * another full refresh due, which would announce every name of the node again (a million, on a
 * large node) for the few thousand that changed.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceBurstDuringRefreshTest {
    private static final int GROUPS = 20_000;     // the node's names: 79 calls of 256
    private static final int PER_CALL = 200;      // joins that come while Redis takes one call
    private static final int BURST = MAX_PENDING + 2_000;

    @Test
    void aBurstDuringARefreshIsAnnouncedWithoutAnotherFullRefresh() throws Exception {
        BatchedPresence bus = new BatchedPresence();
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
            // No periodic refresh during the test: only a connect (and the cap) can make one due.
            cluster = ClusterFanout.start(ClusterConfig.builder("a").presenceRefresh(Duration.ofMinutes(1))
                    .presenceTtl(Duration.ofMinutes(2)).build(), registry, bus, bus);
            ClusterFanout c = cluster;
            Awaitility.await("every group announced").atMost(Duration.ofSeconds(20)).until(() -> bus.hasGroups(names));

            // The joins come while the presence thread is in Redis: played from within its calls,
            // PER_CALL of them per call of the refresh, until BURST have come.
            AtomicInteger joined = new AtomicInteger();
            AtomicBoolean burstDone = new AtomicBoolean();
            AtomicInteger refreshedAfter = new AtomicInteger(); // the node's own names announced once the burst was in
            List<String> burst = new ArrayList<>();
            for (int i = 0; i < BURST; i++) {
                burst.add("burst-" + i);
            }
            bus.beforeBatch = batch -> {
                int own = (int) batch.stream().filter(n -> !n.startsWith("burst-")).count();
                if (own == 0) {
                    return; // the burst's own announce
                }
                if (burstDone.get()) {
                    refreshedAfter.addAndGet(own);
                    return;
                }
                for (int i = 0; i < PER_CALL && joined.get() < BURST; i++) {
                    c.joinGroup(s, burst.get(joined.getAndIncrement()));
                }
                burstDone.set(joined.get() == BURST);
            };
            bus.listener.onConnected(); // a full refresh of the node's names, under way when the burst comes
            Awaitility.await("the burst announced").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                    .until(() -> burstDone.get() && bus.hasGroups(burst));
            assertThat(bus.hasGroups(names)).isTrue();
            // The refresh under way goes on (less than its names); another would announce all of them again.
            assertThat(refreshedAfter.get()).as("the node's own names announced after the burst").isLessThan(GROUPS);
        } finally {
            if (cluster != null) {
                cluster.close();
            }
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
