package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A presence key that holds something else than a sorted set (another application's key under the
 * same prefix, a buggy or hostile client of the same Redis) costs its own name only: it is skipped
 * and logged, and every other name is announced. The announce script failed whole on it (WRONGTYPE),
 * so its call failed, and was done again, and failed again, for ever: the names after it in that
 * call were never announced, and a full refresh, which goes on from the call that failed, never got
 * past it: one foreign key kept most of a node's names out of presence, and the others' entries
 * expired. So did a sorted set whose last score is no time ({@code +inf}): the script's {@code
 * PEXPIREAT} to it failed.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceForeignKeyTest {
    private static final int GROUPS = 600; // three calls of at most 256 names

    @TempDir
    Path dir;

    @Test
    void aKeyOfAnotherTypeCostsOnlyItsOwnName() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                Jedis raw = new Jedis("127.0.0.1", redis.port());
                LogCapture log = LogCapture.of(RedisBus.class.getName())) {
            raw.set("test:g:group-7", "another application's");
            raw.set("test:g:group-300", "another application's");
            raw.zadd("test:g:group-450", Double.POSITIVE_INFINITY, "junk"); // a sorted set, its last score no time
            ConnectionRegistry registry = ConnectionRegistry.create();
            TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
            try (TestClient client = TestClient.connect(server.address())) {
                Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
                Sender s = registry.connections().iterator().next();
                List<String> others = new ArrayList<>();
                for (int i = 0; i < GROUPS; i++) {
                    registry.joinGroup(s, "group-" + i); // on the registry: the full refresh announces them
                    if (i != 7 && i != 300) {
                        others.add("group-" + i);
                    }
                }
                try (ClusterFanout cluster = ClusterFanout.start(Node.config("a", redis).build(), registry)) {
                    Awaitility.await("every other group announced").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                            .until(() -> others.stream().allMatch(g -> raw.zscore("test:g:" + g, "a") != null));
                    assertThat(raw.get("test:g:group-7")).as("the foreign key, untouched").isEqualTo("another application's");
                    assertThat(raw.zscore("test:g:group-450", "a")).as("a's entry beside the junk").isNotNull();
                    Awaitility.await("the skipped key logged").atMost(Duration.ofSeconds(20))
                            .until(() -> !log.events("cluster.presence.skipped").isEmpty());
                    Map<String, Object> line = LogCapture.fields(log.events("cluster.presence.skipped").getFirst());
                    assertThat(line.get("key").toString()).startsWith("test:g:group-");
                    // Redis named as every line names it; why it was skipped under why, not reason (a category's key)
                    assertThat(line).containsEntry("redis", redis.address()).containsKey("why").doesNotContainKey("reason");
                }
            } finally {
                server.close();
                assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
            }
        }
    }
}
