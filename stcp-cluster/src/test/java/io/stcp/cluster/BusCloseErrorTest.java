package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.stcp.cluster.internal.ClusterThreads;
import io.stcp.testing.LogCapture;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientType;
import redis.clients.jedis.params.ClientKillParams;

/**
 * An {@link Error} thrown while the bus closes one of its Redis connections (a class of Jedis's
 * missing from the class path, out of memory) does not stop {@link RedisBus#close()}: the
 * subscriber and heartbeat threads are joined, the pool is closed, no connection is left in Redis,
 * and the failure is logged, once for the lot. The Error used to escape close() at the subscriber's
 * connection, before anything else was done: the node stayed subscribed, its threads running. Nor
 * does it cost anything else that closes connections: the pool's, as a new subscription drops the
 * idle ones from before.
 */
@ExtendWith(ClusterLeakCheck.class)
class BusCloseErrorTest {
    @TempDir
    Path dir;

    @Test
    void anErrorClosingEachConnectionDoesNotStopCloseAndIsLoggedOnce() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                LogCapture log = LogCapture.of(RedisBus.class.getName())) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            bus.subscribe("a", listener);
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 1 && bus.isConnected());
            bus.nodes(Presence.Scope.USER, "u"); // a pooled connection, idle in the pool from now on
            assertThat(admin.clientList().lines().filter(l -> l.contains(" name=stcp-a ")).count())
                    .as("the subscriber's connection and the pooled one").isEqualTo(2);
            AtomicInteger closes = new AtomicInteger();
            bus.beforeClose = j -> { // on the closing thread, right before each connection is closed
                closes.incrementAndGet();
                // as from a Jedis class missing from the class path; not an OutOfMemoryError,
                // which a test JVM may take as fatal
                throw new NoClassDefFoundError("test: redis/clients/jedis/util/IOUtils");
            };

            assertThatCode(bus::close).as("close() with every connection's close throwing").doesNotThrowAnyException();

            assertThat(ClusterThreads.live()).as("the subscriber and heartbeat threads, joined by close()")
                    .noneMatch(t -> t.getName().equals("stcp-cluster-a-redis") || t.getName().equals("stcp-cluster-a-redis-ping"));
            // the subscriber's, in close() and as its attempt ended; the pooled one's, as the pool closed
            assertThat(closes).as("connections closed").hasValueGreaterThanOrEqualTo(3);
            assertThat(log.events("cluster.bus.close.error")).as("logged, once for the lot").hasSize(1);
            Awaitility.await("no connection of the node's left in Redis").atMost(Duration.ofSeconds(20))
                    .until(() -> admin.clientList().lines().noneMatch(l -> l.contains(" name=stcp-a ")));
            assertThat(listener.disconnects).as("a close is no loss").hasValue(0);
        }
    }

    /**
     * A new subscription drops the pool's idle connections, broken by the outage it follows: an
     * Error closing one (the pool's destroy, which let it through) used to end that subscription
     * before it was up, and cost another attempt and a {@code cluster.bus.error}.
     */
    @Test
    void anErrorClosingAnIdlePooledConnectionDoesNotCostTheNewSubscription() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                LogCapture log = LogCapture.of(RedisBus.class.getName());
                RedisBus bus = RedisBus.create(Node.config("a", redis).build())) {
            bus.subscribe("a", listener);
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 1 && bus.isConnected());
            bus.nodes(Presence.Scope.USER, "u"); // a pooled connection, idle in the pool from now on
            AtomicInteger closes = new AtomicInteger();
            bus.beforeClose = j -> {
                closes.incrementAndGet();
                throw new NoClassDefFoundError("test: redis/clients/jedis/util/IOUtils");
            };
            AtomicInteger attempts = new AtomicInteger();
            bus.beforeAttempt = attempts::incrementAndGet;

            admin.clientKill(ClientKillParams.clientKillParams().type(ClientType.PUBSUB)); // the subscription lost

            Awaitility.await("subscribed again").atMost(Duration.ofSeconds(20))
                    .until(() -> listener.disconnects.get() == 1 && listener.connects.get() == 2 && bus.isConnected());
            assertThat(attempts).as("attempts to subscribe again").hasValue(1);
            assertThat(closes).as("the lost subscriber's connection and the idle pooled one closed").hasValueGreaterThanOrEqualTo(2);
            assertThat(log.events("cluster.bus.error")).as("no attempt failed").isEmpty();
            assertThat(log.events("cluster.bus.close.error")).as("logged, once for both").hasSize(1);
        }
    }

    /**
     * A line of close() that fails to be made (out of memory, an Error from an appender) does not
     * escape it either: {@code cluster.bus.close.timeout}, for a subscriber thread held up in the
     * application's listener, did, before the heartbeat thread was joined and the pool closed.
     */
    @Test
    void aFailingLineDoesNotEscapeClose() throws Exception {
        CountDownLatch connecting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ClusterBus.Listener hanging = new CountingListener() { // told of the subscription, it hangs
            @Override
            public void onConnected() {
                connecting.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS); // close() does not interrupt the subscriber thread
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try (RedisServer redis = RedisServer.start(dir);
                FailingLog line = FailingLog.onFirst(RedisBus.class.getName(), "cluster.bus.close.timeout")) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).closeTimeout(Duration.ofMillis(200)).build());
            try {
                bus.subscribe("a", hanging);
                assertThat(connecting.await(20, TimeUnit.SECONDS)).as("the subscriber thread in onConnected").isTrue();

                assertThatCode(bus::close).as("close() with its line throwing").doesNotThrowAnyException();

                assertThat(line.hasThrown()).as("cluster.bus.close.timeout threw").isTrue();
            } finally {
                release.countDown();
                bus.close();
            }
        }
    }
}
