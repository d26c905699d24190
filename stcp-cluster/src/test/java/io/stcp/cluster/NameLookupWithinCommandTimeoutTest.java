package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The name lookup of the Redis host, which a call makes when it needs a new connection, counts
 * in the call's command timeout like the connect: a resolver that hangs (a DNS server gone) fails
 * the call in time instead of holding it until the resolver gives up. And the calls that come
 * meanwhile wait for that same lookup instead of starting one each.
 */
@ExtendWith(ClusterLeakCheck.class)
class NameLookupWithinCommandTimeoutTest {
    @TempDir
    Path dir;

    @Test
    void aCallWhoseNameLookupHangsEndsWithinOneCommandTimeout() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean hang = new AtomicBoolean();
        AtomicInteger lookups = new AtomicInteger();
        HostLookup.Resolver resolver = host -> { // plays the DNS: redis.stcp.test is the loopback address
            lookups.incrementAndGet();
            if (hang.get()) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new UnknownHostException("interrupted");
                }
            }
            return new InetAddress[] {InetAddress.getLoopbackAddress()};
        };
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress("redis.stcp.test:" + redis.port())
                        .commandTimeout(Duration.ofSeconds(1)).build(), resolver)) {
            try {
                bus.subscribe("a", new CountingListener());
                Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
                hang.set(true);
                int before = lookups.get();
                for (int i = 0; i < 2; i++) { // the pool is empty: each call must make a connection, so look the host up
                    CompletableFuture<Throwable> publish = new CompletableFuture<>();
                    Thread.ofVirtual().start(() -> publish.complete(catchThrowable(() -> bus.publishAll("x".getBytes(StandardCharsets.UTF_8)))));
                    // Before the fix the call waited for the lookup, until the end of the test.
                    Throwable e = publish.get(20, TimeUnit.SECONDS); // about 1 s
                    assertThat(e).as("publish %d", i).isInstanceOf(BusException.class);
                    assertThat(((BusException) e).outcomeUnknown()).isFalse();
                    assertThat(e.getMessage()).contains("look up redis.stcp.test");
                }
                assertThat(lookups.get() - before).as("lookups started by the two calls").isEqualTo(1);
            } finally {
                hang.set(false);
                release.countDown();
            }
            Awaitility.await("a publish once the resolver answers").atMost(Duration.ofSeconds(20)).ignoreExceptions()
                    .until(() -> bus.publishAll("y".getBytes(StandardCharsets.UTF_8)) == 1);
        }
    }
}
