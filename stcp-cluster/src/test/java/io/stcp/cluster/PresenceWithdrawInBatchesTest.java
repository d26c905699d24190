package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.cluster.Presence.Scope;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Withdrawing many names (a large node's stale names after a mass disconnect, or all of them at
 * close) is made of calls of a bounded size, each within its own {@code commandTimeout}: as one
 * call it could never end in time on a slow link, and would fail — and be tried again — for ever.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceWithdrawInBatchesTest {
    private static final int NAMES = 20_000; // some 950 KB of ZREMs: at least 118 reads of 8 KiB on the slow link, 2.9 s

    @TempDir
    Path dir;

    @Test
    void aLargeWithdrawalIsMadeOfCallsThatEachEndInTime() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                Jedis admin = new Jedis("127.0.0.1", redis.port());
                RedisBus fast = RedisBus.create(Node.config("a", redis).build())) {
            // 25 ms per 8 KiB read: the whole withdrawal takes more than 2.9 s to arrive, twice
            // the command timeout, one batch of 256 names some 50 ms, a thirtieth of it (a margin
            // a loaded 2-core machine keeps: 500 ms against 10 ms a read was once too little).
            proxy.delayRequestsOnNewConnections(Duration.ofMillis(25));
            try (RedisBus slow = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                    .commandTimeout(Duration.ofMillis(1500)).build())) {
                fast.subscribe("a", new CountingListener());
                slow.subscribe("a", new CountingListener());
                Awaitility.await("both connected").atMost(Duration.ofSeconds(20)).until(() -> fast.isConnected() && slow.isConnected());
                List<String> names = new ArrayList<>();
                for (int i = 0; i < NAMES; i++) {
                    names.add("group-" + i);
                }
                fast.announce("a", Scope.GROUP, names);
                assertThat(admin.dbSize()).isEqualTo(NAMES);

                slow.withdraw("a", Scope.GROUP, names);
                assertThat(admin.dbSize()).as("keys left").isZero();
            }
        }
    }
}
