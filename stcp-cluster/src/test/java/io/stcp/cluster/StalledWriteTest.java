package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A publish longer than the socket buffers, to a Redis that has stopped reading, blocks in its
 * write; the call must still end within about its command timeout (the connection is closed at the
 * deadline), report that nothing was published (its {@code EXEC} was never sent), and not leave
 * that closed connection in the pool: the next call works at once.
 */
@ExtendWith(ClusterLeakCheck.class)
class StalledWriteTest {
    @TempDir
    Path dir;

    @Test
    void aPublishWhoseWriteRedisStopsReadingEndsWithinTheCommandTimeoutAsNotPublished() throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>(); // the lengths of the messages the bus's own subscription gets
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(Duration.ofSeconds(1)).poolSize(1).build())) {
            bus.subscribe("a", new ClusterBus.Listener() {
                @Override
                public void onMessage(byte[] message) {
                    received.add(message.length);
                }

                @Override
                public void onConnected() {
                }

                @Override
                public void onDisconnected(String reason) {
                }
            });
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);

            // 16 MiB: more than the client's send buffer and the relay's receive buffer can hold.
            proxy.stopReadingFrom("PUBLISH");
            CompletableFuture<Throwable> publish = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> publish.complete(catchThrowable(() -> bus.publishAll(new byte[16 << 20]))));
            long start = System.nanoTime();
            // Before the fix the write blocked until the relay closed, at the end of the test.
            Throwable e = publish.get(20, TimeUnit.SECONDS); // about 1 s
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(e).as("the publish, after %d ms", tookMs).isInstanceOf(BusException.class);
            assertThat(((BusException) e).outcomeUnknown()).as("outcome unknown (EXEC was not sent): " + e.getMessage()).isFalse();
            assertThat(e.getMessage()).contains("commandTimeout passed");

            // Pool of one: the closed connection, had it gone back, would fail this publish.
            assertThat(bus.publishAll("after".getBytes(StandardCharsets.UTF_8))).isEqualTo(1);
            Awaitility.await("the second message").atMost(Duration.ofSeconds(20)).until(() -> !received.isEmpty());
            assertThat(received).as("what the subscription got (the 16 MiB one was not published)").containsExactly(5);
        }
    }
}
