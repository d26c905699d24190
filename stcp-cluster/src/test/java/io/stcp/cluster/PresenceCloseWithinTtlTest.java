package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.cluster.internal.RealClusterFanout;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Closing a large node withdraws its names in many calls; against a Redis that answers each slowly
 * but in time, that took every call's time in turn, however long, after waiting for the presence
 * step under way to end, however many calls it had left. Now close waits for the presence thread's
 * call under way only, withdraws for at most the presence TTL (every entry has expired by itself by
 * then), and says how many names it left.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceCloseWithinTtlTest {
    private final BatchedPresence bus = new BatchedPresence();
    private final ConnectionRegistry registry = ConnectionRegistry.create();
    private TcpServer server;
    private TestClient client;
    private ClusterFanout cluster;

    @BeforeEach
    void start() throws Exception {
        server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        client = TestClient.connect(server.address());
        Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
    }

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
        client.close();
        server.close();
        assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
    }

    /** A node of {@code groups} groups on {@link #bus} (presenceTtl 1 s), once all are announced. */
    private void joinWith(int groups) {
        Sender s = registry.connections().iterator().next();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < groups; i++) {
            names.add("group-" + i);
            registry.joinGroup(s, "group-" + i); // on the registry: the full refresh announces them
        }
        cluster = ClusterFanout.start(ClusterConfig.builder("a").presenceRefresh(Duration.ofMillis(250))
                .presenceTtl(Duration.ofSeconds(1)).build(), registry, bus, bus);
        Awaitility.await("every group announced").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> bus.hasGroups(names));
    }

    /** From now on each call takes {@code millis}: a slow Redis, played. */
    private void slowCalls(long millis, CountDownLatch inCall) {
        bus.beforeBatch = batch -> {
            inCall.countDown();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    private long closeMillis() {
        long start = System.nanoTime();
        cluster.close();
        cluster = null;
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    @Test
    void closeGivesUpTheWithdrawalsLeftAfterThePresenceTtlAndSaysHowMany() {
        try (LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            joinWith(40 * RedisBus.BATCH); // 40 calls at close, 100 ms each: 4 s
            slowCalls(100, new CountDownLatch(1));

            long tookMs = closeMillis();

            // A presence step under way first (one call: 0.1 s), then presenceTtl 1 s and the call under
            // way then: about 1.2 s; 4 s and more before the fix.
            assertThat(tookMs).as("how long close took (ms), presenceTtl 1 s").isLessThan(3_000L);
            int left = bus.groups().size();
            assertThat(left).as("names left to expire").isPositive();
            List<ILoggingEvent> events = log.events("cluster.close.withdraw.timeout");
            assertThat(events).hasSize(1);
            assertThat(events.getFirst().getLevel().toString()).isEqualTo("WARN");
            assertThat(LogCapture.fields(events.getFirst())).containsEntry("node", "a").containsEntry("left", left)
                    .containsEntry("presenceTtl", "1s");
        }
    }

    @Test
    void closeWaitsForThePresenceThreadsCallUnderWayNotForItsWholeStep() throws Exception {
        joinWith(2 * RealClusterFanout.REFRESH_CHUNK); // a refresh step is 4 calls
        CountDownLatch inCall = new CountDownLatch(1);
        slowCalls(1000, inCall);
        assertThat(inCall.await(20, TimeUnit.SECONDS)).as("a refresh step under way").isTrue();

        long tookMs = closeMillis();

        // The call under way (1 s at most), then one call of the withdrawals (the TTL, 1 s, passes
        // in it): 2 s at most; before the fix the step's other three calls came first: 4 s and more.
        assertThat(tookMs).as("how long close took (ms), presenceTtl 1 s, each call 1 s").isLessThan(3_000L);
    }
}
