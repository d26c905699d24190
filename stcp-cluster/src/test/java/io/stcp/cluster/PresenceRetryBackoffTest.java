package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.cluster.Presence.Scope;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A Redis that stays connected but refuses the node's presence (out of memory here; a read-only
 * replica after a failover does the same) must see the node's retries come ever less often —
 * {@code reconnectDelay} doubling to {@code reconnectMaxDelay}, as the bus's reconnects — not every
 * {@code reconnectDelay}, and each failed round counted; once Redis takes writes again, presence
 * is right again.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceRetryBackoffTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).ignoreExceptions();
    }

    @Test
    void presenceRoundsRedisRefusesAreRetriedWithBackOffAndCounted() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build()); // looks at presence as another node does
                Node a = Node.start(Node.config("a", redis)
                        .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(1600)).build());
                TestClient alice = TestClient.connect(a.address());
                TestClient bob = TestClient.connect(a.address())) {
            probe.subscribe("probe", new CountingListener());
            await("both connected").until(() -> probe.isConnected() && a.cluster.isConnected());
            assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8)).isEqualTo("ok");
            await("alice announced").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
            assertThat(a.cluster.stats().presenceFailures()).isZero();

            admin.configSet("maxmemory", "1"); // writes refused (OOM); pub/sub, reads and the subscription go on
            await("the first failed round").until(() -> a.cluster.stats().presenceFailures() >= 1);
            long first = System.nanoTime();
            await("six more failed rounds").until(() -> a.cluster.stats().presenceFailures() >= 7);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - first);
            // Waits of 50, 100, 200, 400, 800 and 1600 ms, each up to a fifth shorter (jitter): 2.52
            // to 3.15 s from the first failure to the seventh, less the little it took to see the
            // first. Every 50 ms (the reconnect delay, without back-off) would take 300 ms.
            assertThat(elapsedMs).as("six retries after the first failed round took (ms)").isGreaterThanOrEqualTo(2_500L);
            assertThat(a.cluster.isConnected()).as("the bus stayed up").isTrue();
            assertThat(a.cluster.stats().reconnects()).isZero();

            admin.configSet("maxmemory", "0");
            assertThat(new String(bob.roundTrip("user:bob".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8)).isEqualTo("ok");
            await("presence right again").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a"))
                    && probe.nodes(Scope.USER, "bob").equals(Set.of("a")));
        }
    }
}
