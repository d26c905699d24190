package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sockets of the bus's connections, the pooled ones included, are made as Jedis's own socket
 * factory makes them where it matters: each address of the host is tried in turn, and a close
 * resets the connection ({@code SO_LINGER} 0) so that nothing left unsent reaches Redis later.
 */
@ExtendWith(ClusterLeakCheck.class)
class RedisSocketsTest {
    @TempDir
    Path dir;

    @Test
    void everyConnectionIsResetWhenTheBusClosesIt() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port())) {
            try (RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address()).build())) {
                bus.subscribe("a", new CountingListener());
                Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
                assertThat(bus.publishAll("x".getBytes(StandardCharsets.UTF_8))).isEqualTo(1); // makes a pooled connection
            }
            Awaitility.await("both connections ended").atMost(Duration.ofSeconds(20)).until(() -> proxy.clientEnds().size() >= 2);
            assertThat(proxy.clientEnds()).as("how the subscriber's and the pooled connection ended").containsExactly("reset", "reset");
        }
    }

    @Test
    void aHostWhoseFirstAddressRefusesIsReachedOnItsNext() throws Exception {
        try (RedisServer redis = RedisServer.start(dir); // listens on 127.0.0.1 only: 127.0.0.2 refuses
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress("redis.stcp.test:" + redis.port()).build(),
                        host -> new InetAddress[] {InetAddress.getByName("127.0.0.2"), InetAddress.getByName("127.0.0.1")})) {
            bus.subscribe("a", new CountingListener());
            Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(bus::isConnected);
            assertThat(bus.publishAll("x".getBytes(StandardCharsets.UTF_8))).as("a publish on a pooled connection").isEqualTo(1);
        }
    }
}
