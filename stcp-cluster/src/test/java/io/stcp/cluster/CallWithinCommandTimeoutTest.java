package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bus call that must make its connection first (the pool is empty after every reconnect) takes
 * at most the command timeout in all — making the connection, then each round trip, get what is
 * left of it — not a command timeout per step: a slow Redis must not hold a send for several.
 */
@ExtendWith(ClusterLeakCheck.class)
class CallWithinCommandTimeoutTest {
    @TempDir
    Path dir;

    @Test
    void aPublishThatMakesItsConnectionEndsWithinOneCommandTimeout() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(Duration.ofSeconds(1)).build())) {
            bus.subscribe("a", new CountingListener());
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
            // The subscription answers at once; the command connection, made now, answers 700 ms late:
            // its handshake, the queued commands and EXEC would take 2.1 s, each step within 1 s.
            proxy.delayRepliesOnNewConnections(Duration.ofMillis(700));
            long start = System.nanoTime();
            BusException e = catchThrowableOfType(BusException.class, () -> bus.publishAll("x".getBytes(StandardCharsets.UTF_8)));
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(e).as("the publish, after %d ms", tookMs).isNotNull();
            assertThat(e.outcomeUnknown()).as("outcome unknown (EXEC was not sent): " + e.getMessage()).isFalse();
            assertThat(tookMs).as("how long the publish took (ms), commandTimeout 1 s").isLessThan(2_000L); // about 1 s; 2.25 s before the fix
        }
    }
}
