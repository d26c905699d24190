package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Setting up a connection takes several round trips — {@code AUTH}, then {@code CLIENT SETNAME}
 * and {@code CLIENT SETINFO}, and for the subscriber a {@code PING} — each of which a read timeout
 * bounds alone. Against a Redis that answers each a little within that timeout, the set-up as a
 * whole must still end within the command timeout: a call's connection within the call's, the
 * subscriber's within one after its connect.
 */
@ExtendWith(ClusterLeakCheck.class)
class ConnectionSetUpWithinTimeoutTest {
    @TempDir
    Path dir;

    @Test
    void aCallWhoseNewConnectionShakesHandsSlowlyEndsWithinTheCommandTimeout() throws Exception {
        try (RedisServer redis = RedisServer.start(dir, List.of("--requirepass", "secret"));
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address()).redisPassword("secret")
                        .commandTimeout(Duration.ofSeconds(2)).build())) {
            bus.subscribe("a", new CountingListener());
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
            // The pool is empty: the publish makes its connection, whose AUTH and CLIENT SETNAME are
            // answered 1.8 s late each: 3.6 s of handshake, each reply within its 2 s read timeout.
            proxy.delayRepliesOnNewConnections(Duration.ofMillis(1800));
            long start = System.nanoTime();
            BusException e = catchThrowableOfType(BusException.class, () -> bus.publishAll("x".getBytes(StandardCharsets.UTF_8)));
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(e).as("the publish, after %d ms", tookMs).isNotNull();
            assertThat(e.outcomeUnknown()).as("outcome unknown (nothing was sent): " + e.getMessage()).isFalse();
            assertThat(tookMs).as("how long the publish took (ms), commandTimeout 2 s").isLessThan(3_000L); // about 2 s; 3.6 s before the fix
        }
    }

    @Test
    void aSubscriberConnectionWhoseSetUpOutlastsTheCommandTimeoutIsClosedThen() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(Duration.ofSeconds(2)).build())) {
            // The handshake and the PING answered 1.4 s late each: 2.8 s, each reply within its 2 s read timeout.
            proxy.delayRepliesOnNewConnections(Duration.ofMillis(1400));
            bus.subscribe("a", new CountingListener());
            // Before the fix that connection went on to subscribe, and stayed: nothing ended it.
            Awaitility.await("the bus to end its first subscriber connection").atMost(Duration.ofSeconds(20))
                    .until(() -> !proxy.clientLifetimes().isEmpty());
            Duration lived = proxy.clientLifetimes().getFirst();
            assertThat(proxy.clientEnds().getFirst()).as("how it ended").isEqualTo("reset");
            assertThat(lived).as("how long the subscriber's set-up went on, commandTimeout 2 s").isLessThan(Duration.ofSeconds(3)); // about 2 s
            assertThat(bus.isConnected()).isFalse();
        }
    }
}
