package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientType;
import redis.clients.jedis.params.ClientKillParams;

/**
 * A Redis that drops the node's subscriber each time it is made (its pub/sub output limit hit
 * again and again, say) must see the node come back ever later, not every reconnect delay: a
 * subscription that ends at once does not start the back-off again.
 */
@ExtendWith(ClusterLeakCheck.class)
class ResubscribeBackoffTest {
    @TempDir
    Path dir;

    @Test
    void aSubscriptionDroppedAsSoonAsItIsMadeDoesNotStartTheBackOffAgain() throws Exception {
        List<Long> ups = new CopyOnWriteArrayList<>();
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus bus = RedisBus.create(Node.config("a", redis)
                        .reconnectDelay(Duration.ofMillis(10)).reconnectMaxDelay(Duration.ofSeconds(10)).build());
                Jedis admin = new Jedis("127.0.0.1", redis.port())) {
            bus.subscribe("a", new ClusterBus.Listener() {
                @Override
                public void onMessage(byte[] message) {}

                @Override
                public void onConnected() {
                    ups.add(System.nanoTime());
                }

                @Override
                public void onDisconnected(String reason) {}
            });
            for (int k = 1; k <= 6; k++) {
                int made = k;
                Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1)).until(() -> ups.size() >= made);
                admin.clientKill(ClientKillParams.clientKillParams().type(ClientType.PUBSUB));
            }
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> ups.size() >= 7);
        }
        // Waits of 10, 20, 40, 80, 160, 320 ms, each up to a fifth shorter (jitter): the sixth drop is
        // followed by at least 256 ms, not 10.
        long lastGapMs = TimeUnit.NANOSECONDS.toMillis(ups.get(6) - ups.get(5));
        assertThat(lastGapMs).as("the wait after the sixth drop in a row").isGreaterThanOrEqualTo(250);
    }
}
