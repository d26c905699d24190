package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.stcp.cluster.Presence.Scope;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call that finds every pooled connection busy for its whole command timeout fails saying so,
 * with the pool's size: it failed with Jedis's "Could not get a resource from the pool" only,
 * which says neither that the pool was full nor what to raise. The pool's one connection is held
 * here by a call of the test's own, on the bus's calls.
 */
@ExtendWith(ClusterLeakCheck.class)
class PoolExhaustedTest {
    @TempDir
    Path dir;

    @Test
    void aCallThatFindsNoFreeConnectionSaysThePoolWasFull() throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus bus = RedisBus.create(Node.config("a", redis).poolSize(1).commandTimeout(Duration.ofMillis(500)).build())) {
            bus.subscribe("a", new CountingListener());
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
            Field f = RedisBus.class.getDeclaredField("calls");
            f.setAccessible(true);
            RedisCalls calls = (RedisCalls) f.get(bus);
            CompletableFuture<Object> held = CompletableFuture.supplyAsync(() -> calls.call("hold", (j, end) -> {
                holding.countDown();
                try {
                    return release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }));
            try {
                assertThat(holding.await(20, TimeUnit.SECONDS)).as("the pool's one connection held").isTrue();
                BusException e = catchThrowableOfType(BusException.class, () -> bus.nodes(Scope.USER, "bob"));
                assertThat(e).isNotNull();
                assertThat(e.getMessage()).as("why no connection")
                        .contains("presence lookup not sent").contains("no free connection").contains("poolSize 1");
                assertThat(e.outcomeUnknown()).isFalse();
            } finally {
                release.countDown();
            }
            held.handle((r, t) -> null).get(20, TimeUnit.SECONDS);
        }
    }
}
