package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.cluster.Presence.Scope;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * What a presence lookup takes from Redis is bounded by what a node id can be (at most 64 of
 * {@code A-Z a-z 0-9 . _ -}), not by what is in the sorted set: a buggy or hostile client of the
 * same Redis (another application sharing the key prefix, a node of another version) can put
 * members of any length there, up to Redis's 512 MB. Every send to that user read them all: 8
 * members of 8 MiB cost the sending thread some 200 MB (the replies, then a string of each), and
 * a publish to 8 channels of 8 MiB names; a few such sends at once took a node's heap.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceLookupBoundsTest {
    private static final int HUGE = 8 << 20;

    @TempDir
    Path dir;

    @Test
    void aLookupReturnsOnlyMembersThatCanBeNodeIdsAndDoesNotReadTheOthers() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus bus = RedisBus.create(Node.config("a", redis).commandTimeout(Duration.ofSeconds(5)).build());
                Jedis other = new Jedis("127.0.0.1", redis.port())) {
            bus.subscribe("a", new CountingListener());
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
            byte[] key = "test:u:bob".getBytes(StandardCharsets.UTF_8);
            double farFuture = 1e15;
            for (int i = 0; i < 8; i++) {
                byte[] member = new byte[HUGE];
                Arrays.fill(member, (byte) ('A' + i));
                other.zadd(key, farFuture, member);
            }
            other.zadd(key, farFuture, "has space".getBytes(StandardCharsets.UTF_8));
            other.zadd(key, farFuture, "x".repeat(65).getBytes(StandardCharsets.UTF_8));
            // Announced last: its entry lives for the presence TTL (1.5 s), which writing 64 MiB
            // above can outlast on a loaded machine.
            bus.announce("b", Scope.USER, java.util.List.of("bob"));

            long before = allocatedHere();
            var nodes = bus.nodes(Scope.USER, "bob");
            long allocated = allocatedHere() - before;

            // (the huge ones described by their length: a failure message holding them would take the test's heap)
            assertThat(nodes.stream().map(n -> n.length() > 64 ? n.length() + " chars" : n).toList())
                    .as("the node ids, and only them").containsExactly("b");
            assertThat(allocated).as("bytes allocated by the lookup").isLessThan(HUGE);
        }
    }

    /** The bytes this (platform) thread has allocated so far: the JDK's com.sun.management extension, by reflection (not exported to this module). */
    private static long allocatedHere() throws ReflectiveOperationException {
        Object threads = ManagementFactory.getThreadMXBean();
        return (long) Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes").invoke(threads);
    }
}
