package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.cluster.internal.ClusterThreads;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A bus closed while its thread is about to subscribe — its connection taken as the subscriber,
 * {@code SUBSCRIBE} not sent yet — must not subscribe on a connection made again: Jedis connects
 * a closed connection on its next command, which would leave a subscription in Redis and a thread
 * reading it forever after {@code close()}. Nor may one closed as Redis confirms the subscription
 * tell its listener it is connected.
 */
@ExtendWith(ClusterLeakCheck.class)
class CloseWhileSubscribingTest {
    @TempDir
    Path dir;

    @Test
    void aBusClosedJustBeforeItSubscribesLeavesNoSubscriptionAndNoThread() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port())) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            CountDownLatch atSubscribe = new CountDownLatch(1);
            // The bus's thread stops right before SUBSCRIBE until close() has closed its connection.
            bus.beforeSubscribe = j -> {
                atSubscribe.countDown();
                Awaitility.await("close() closed the subscriber connection").atMost(Duration.ofSeconds(20))
                        .pollInterval(Duration.ofMillis(1)).until(() -> !j.isConnected());
            };
            bus.subscribe("a", listener);
            assertThat(atSubscribe.await(20, TimeUnit.SECONDS)).as("the bus's thread about to subscribe").isTrue();

            long start = System.nanoTime();
            bus.close(); // waits up to 10 s for a thread that does not end
            long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            assertThat(ClusterThreads.live()).as("threads left by close()").isEmpty();
            assertThat(closeMs).as("close() waiting for the bus's threads").isLessThan(5_000);
            assertThat(listener.connects).as("subscriptions reported after close()").hasValue(0);
            Awaitility.await("no subscriber left in Redis").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                    .until(() -> admin.pubsubNumSub("test:node:a", "test:all"), Map.of("test:node:a", 0L, "test:all", 0L)::equals);
        }
    }

    /**
     * Redis confirms the subscription just as the bus is closed: close() runs once both
     * confirmations are in, before the bus has told its listener. The listener must not hear of a
     * connection after close().
     */
    @Test
    void aBusClosedAsItsSubscriptionIsConfirmedDoesNotReportItConnected() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir)) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            CountDownLatch confirmed = new CountDownLatch(1);
            // The bus's thread stops once both channels are confirmed until close() has closed its connection.
            bus.beforeConnected = j -> {
                confirmed.countDown();
                Awaitility.await("close() closed the subscriber connection").atMost(Duration.ofSeconds(20))
                        .pollInterval(Duration.ofMillis(1)).until(() -> !j.isConnected());
            };
            bus.subscribe("a", listener);
            assertThat(confirmed.await(20, TimeUnit.SECONDS)).as("the subscription confirmed").isTrue();

            bus.close();

            assertThat(ClusterThreads.live()).as("threads left by close()").isEmpty();
            assertThat(listener.connects).as("onConnected after close()").hasValue(0);
            assertThat(bus.isConnected()).isFalse();
        }
    }
}
