package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A node whose connections to Redis go silent without being closed — a NAT or firewall that forgot
 * the flow; Redis has dropped the node's subscription on its side — must notice it by itself,
 * subscribe again and be reachable again, rather than stay deaf while it still looks connected.
 * The same when the link goes silent while the node subscribes: after the PING, before Redis has
 * confirmed the channels; but a subscribing confirmed just as it is found overdue is kept.
 */
@ExtendWith(ClusterLeakCheck.class)
class SilentRedisTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    @Test
    void aSubscriptionThatGoesSilentIsNoticedAndMadeAgain() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                Node a = Node.start(Node.config("a", redis).redisAddress(proxy.address()).build());
                Node b = Node.start(Node.config("b", redis).build());
                TestClient alice = TestClient.connect(a.address())) {
            await("both connected").until(() -> a.cluster.isConnected() && b.cluster.isConnected());
            assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                    .isEqualTo("ok");
            await("alice present on a").until(() -> b.cluster.sendToUser("alice", frame("before")).forwarded() == 1);
            assertThat(alice.readFrame()).isEqualTo("before".getBytes(StandardCharsets.UTF_8));

            proxy.blackHole(); // a's subscription is gone in Redis; a's socket stays open and hears nothing

            await("a notices its silent subscription and subscribes again").until(() -> a.cluster.stats().reconnects() >= 1);
            await("alice reachable from b again").until(() -> b.cluster.sendToUser("alice", frame("after")).forwarded() == 1);
            assertThat(alice.readFrame()).isEqualTo("after".getBytes(StandardCharsets.UTF_8));
            assertThat(a.cluster.stats().malformed()).isZero();
        }
    }

    @Test
    void aLinkThatGoesSilentWhileSubscribingIsNoticedAndTheSubscriptionMadeAgain() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address()).build())) {
            proxy.swallowNextSubscribe(); // the handshake and PING are answered; SUBSCRIBE and all after it vanish
            bus.subscribe("a", listener);
            await("the first SUBSCRIBE swallowed").until(() -> proxy.subscribeSwallowedNanos() != 0);
            await("subscribed through a new connection").until(() -> listener.connects.get() == 1 && bus.isConnected());
            await("the silent connection closed").until(() -> proxy.subscribeClosedNanos() != 0);
            // commandTimeout is 1 s: noticed within about two, with room for a loaded machine.
            long silentMs = TimeUnit.NANOSECONDS.toMillis(proxy.subscribeClosedNanos() - proxy.subscribeSwallowedNanos());
            assertThat(silentMs).as("how long the silent subscribing went unnoticed").isLessThan(5_000L);
        }
    }

    /**
     * The heartbeat finds the subscribing overdue, and Redis confirms it just then, before the
     * heartbeat closes the connection: the subscription now in place must be kept, not killed.
     * Hooks hold the subscribing thread before {@code SUBSCRIBE} until the heartbeat has found it
     * overdue, and the heartbeat until the confirmations are in.
     */
    @Test
    void aSubscriptionConfirmedAsTheHeartbeatFindsItOverdueIsKept() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).build())) {
            CountDownLatch overdue = new CountDownLatch(1);
            AtomicBoolean held = new AtomicBoolean();
            AtomicLong subscriberId = new AtomicLong(-1); // its Redis client id, taken while the heartbeat is held
            bus.beforeSubscribe = j -> await("the heartbeat to find the subscribing overdue").until(() -> overdue.getCount() == 0);
            bus.beforeSubscribingClose = j -> {
                if (held.compareAndSet(false, true)) {
                    overdue.countDown();
                    await("the subscription confirmed").until(bus::isConnected);
                    try (Jedis look = new Jedis("127.0.0.1", redis.port())) {
                        subscriberId.set(subscriberId(look));
                    }
                }
            };
            bus.subscribe("a", listener);
            await("subscribed while the heartbeat was held").until(() -> subscriberId.get() >= 0);
            long id = subscriberId.get();
            // The heartbeat's next round pings the subscription in place; a killed one is gone from Redis by then.
            await("the subscriber pinged by the next round, or gone").until(() -> {
                String line = clientLine(admin, id);
                return line == null || line.contains(" cmd=ping ");
            });
            assertThat(clientLine(admin, id)).as("the confirmed subscriber's connection").isNotNull();
            assertThat(listener.disconnects).as("subscriptions lost").hasValue(0);
            assertThat(listener.connects).hasValue(1);
            assertThat(bus.isConnected()).isTrue();
        }
    }

    /** The Redis client id of the one connection subscribed to two channels. */
    private static long subscriberId(Jedis admin) {
        return admin.clientList().lines().filter(l -> l.contains(" sub=2 ")).map(l -> Long.parseLong(l.substring(3, l.indexOf(' '))))
                .findFirst().orElseThrow();
    }

    private static String clientLine(Jedis admin, long id) {
        return admin.clientList().lines().filter(l -> l.startsWith("id=" + id + " ")).findFirst().orElse(null);
    }
}
