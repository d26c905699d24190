package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
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
 * confirmed the channels, or when the subscribing is held up past its deadline.
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
     * The subscribing thread is held right before {@code SUBSCRIBE} past the set-up's deadline (a
     * command timeout after the connect): the watchdog closes that connection then, the
     * {@code SUBSCRIBE} fails, and the subscription is made on a new connection, reported once.
     */
    @Test
    void aSubscribingNotConfirmedWithinTheCommandTimeoutIsClosedAndMadeAgain() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).build())) {
            AtomicBoolean held = new AtomicBoolean();
            AtomicLong heldMs = new AtomicLong(-1);
            bus.beforeSubscribe = j -> {
                if (held.compareAndSet(false, true)) {
                    long start = System.nanoTime();
                    await("the watchdog to close the connection").until(() -> !j.isConnected());
                    heldMs.set(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                }
            };
            bus.subscribe("a", listener);
            await("subscribed on a second connection").until(() -> listener.connects.get() == 1 && bus.isConnected());
            // commandTimeout 1 s from the connect, of which the handshake and the PING took some.
            assertThat(heldMs.get()).as("how long the held subscribing went on (ms)").isBetween(0L, 3_000L);
            assertThat(listener.disconnects).as("subscriptions lost").hasValue(0);
            assertThat(admin.clientList().lines().filter(l -> l.contains(" sub=2 ")).count()).as("subscribers in Redis").isEqualTo(1);
        }
    }
}
