package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.LogCapture;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@link Error} on one of the bus's threads — out of memory while a message is read, a class
 * missing from a hand-made class path (Jedis's {@code redis-authx-core}) — does not end it. On the
 * subscriber thread it ends that subscription as any failure does: the listener hears that it is
 * lost, and the bus connects again. On the heartbeat thread it ends that round: the next pings
 * again, and a subscription that goes silent afterwards is still noticed. Either used to end the
 * thread: no subscriber (or no heartbeat) from then on, no stcp log line, and a bus that went on
 * saying it was connected while nobody listened (or nobody noticed the silence).
 */
@ExtendWith(ClusterLeakCheck.class)
class BusThreadErrorTest {
    /**
     * The heartbeat tests' command timeout, which is also the heartbeat's period: they wait for
     * rounds (three, then the two that notice a silence), so it sets their length. Half a second
     * is still hundreds of times what a PING to Redis on loopback takes to be answered.
     */
    private static final Duration HEARTBEAT = Duration.ofMillis(500);

    @TempDir
    Path dir;

    @Test
    void anErrorOnTheSubscriberThreadEndsThatSubscriptionAndTheBusConnectsAgain() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir)) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            AtomicBoolean thrown = new AtomicBoolean();
            bus.beforeConnected = j -> { // on the subscriber thread, once the subscription is confirmed
                if (thrown.compareAndSet(false, true)) {
                    // as from a Jedis class missing from the class path; not an OutOfMemoryError,
                    // which a test JVM may take as fatal
                    throw new NoClassDefFoundError("test: redis/clients/authentication/core/Token");
                }
            };
            try {
                bus.subscribe("a", listener);
                Awaitility.await("connected again after the Error").atMost(Duration.ofSeconds(20))
                        .until(() -> listener.connects.get() == 1);
                assertThat(thrown).as("the Error was thrown").isTrue();
                assertThat(listener.disconnects).as("the subscription the Error ended, reported lost").hasValue(1);
                assertThat(bus.isConnected()).isTrue();
            } finally {
                bus.close();
            }
        }
    }

    @Test
    void anErrorOnTheHeartbeatThreadEndsThatRoundOnlyAndASilentSubscriptionIsStillNoticed() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(HEARTBEAT).build())) {
            AtomicInteger pings = new AtomicInteger();
            bus.beforePing = () -> { // on the heartbeat thread, once a command timeout (HEARTBEAT)
                if (pings.incrementAndGet() == 1) {
                    throw new NoClassDefFoundError("test: redis/clients/jedis/util/SafeEncoder");
                }
            };
            bus.subscribe("a", listener);
            // The round after the Error pings, and one more: the heartbeat goes on, and the
            // subscription was not taken for silent for the ping the Error kept from going out.
            Awaitility.await("two pings after the Error").atMost(Duration.ofSeconds(20)).until(() -> pings.get() >= 3);
            assertThat(listener.connects).hasValue(1);
            assertThat(listener.disconnects).as("subscriptions lost before the link went silent").hasValue(0);

            proxy.blackHole(); // the subscription is gone in Redis; the bus's socket stays open and hears nothing

            Awaitility.await("the silent subscription noticed and made again").atMost(Duration.ofSeconds(20))
                    .until(() -> listener.disconnects.get() == 1 && listener.connects.get() == 2);
            assertThat(bus.isConnected()).isTrue();
        }
    }

    /**
     * An Error thrown by the heartbeat's own line for a failed round (out of memory making it, an
     * Error from an appender) does not end the thread either: it came from within the catch meant
     * to keep the thread going, and ended it with no line at all; a subscription that went silent
     * afterwards was never noticed.
     */
    @Test
    void anErrorLoggingAFailedHeartbeatRoundDoesNotEndTheHeartbeat() throws Exception {
        CountingListener listener = new CountingListener();
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(HEARTBEAT).build());
                FailingLog line = FailingLog.onFirst(RedisBus.class.getName(), "cluster.bus.heartbeat.error")) {
            AtomicInteger pings = new AtomicInteger();
            bus.beforePing = () -> { // on the heartbeat thread, once a command timeout (HEARTBEAT)
                if (pings.incrementAndGet() == 1) {
                    throw new NoClassDefFoundError("test: redis/clients/jedis/util/SafeEncoder");
                }
            };
            bus.subscribe("a", listener);
            Awaitility.await("two pings after the Error and its failed line").atMost(Duration.ofSeconds(20))
                    .until(() -> pings.get() >= 3);
            assertThat(line.hasThrown()).as("the round's line threw").isTrue();
            assertThat(listener.disconnects).as("subscriptions lost before the link went silent").hasValue(0);

            proxy.blackHole(); // the subscription is gone in Redis; the bus's socket stays open and hears nothing

            Awaitility.await("the silent subscription noticed and made again").atMost(Duration.ofSeconds(20))
                    .until(() -> listener.disconnects.get() == 1 && listener.connects.get() == 2);
        }
    }

    /** The listener is told of a lost subscription on the subscriber thread: an Error from it does not end that thread either. */
    @Test
    void anErrorFromTheListenerOnALostSubscriptionDoesNotEndTheSubscriberThread() throws Exception {
        AtomicBoolean thrown = new AtomicBoolean();
        CountingListener listener = new CountingListener() {
            @Override
            public void onDisconnected(String reason) {
                super.onDisconnected(reason);
                if (thrown.compareAndSet(false, true)) {
                    throw new NoClassDefFoundError("test: com/example/ClusterAlerts");
                }
            }
        };
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address()).build())) {
            bus.subscribe("a", listener);
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 1);

            proxy.cut(); // the subscription is lost: the listener throws
            Awaitility.await("the loss reported").atMost(Duration.ofSeconds(20)).untilTrue(thrown);
            proxy.restore();

            Awaitility.await("connected again").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 2 && bus.isConnected());
        }
    }

    /**
     * Where an attempt makes its state (its socket factory, its connection), before any connection:
     * out of memory there is a failed attempt like any other, and the next one subscribes. It was
     * made outside the attempt's {@code try}, and ended the thread: never subscribed, and no line.
     */
    @Test
    void anErrorMakingAnAttemptsStateIsAFailedAttemptAndTheNextSubscribes() throws Exception {
        CountingListener listener = new CountingListener();
        AtomicInteger attempts = new AtomicInteger();
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus bus = RedisBus.create(Node.config("a", redis).build());
                LogCapture log = LogCapture.of(RedisBus.class.getName())) {
            bus.beforeAttempt = () -> { // on the subscriber thread, at the start of each attempt
                if (attempts.incrementAndGet() == 1) {
                    // as out of memory making the attempt's socket factory; not an OutOfMemoryError,
                    // which a test JVM may take as fatal
                    throw new NoClassDefFoundError("test: io/stcp/cluster/RedisBus$OneShotSockets");
                }
            };
            bus.subscribe("a", listener);
            Awaitility.await("connected after the Error").atMost(Duration.ofSeconds(20))
                    .until(() -> listener.connects.get() == 1 && bus.isConnected());
            assertThat(attempts).as("the failed attempt, then the one that subscribed").hasValue(2);
            assertThat(listener.disconnects).as("it was never connected before").hasValue(0);
            assertThat(log.events("cluster.bus.error")).as("not silent").hasSize(1);
        }
    }
}
