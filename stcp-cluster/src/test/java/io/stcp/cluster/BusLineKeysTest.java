package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.LogCapture;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bus's lines name Redis as {@code host:port}, an IPv6 host in brackets, as the server names
 * addresses (they wrote Jedis's HostAndPort object, {@code ::1:6379} as text), and write why a
 * subscription ended, free text, under {@code error}, as the server's and the client's lines write
 * a failure's text ({@code reason} is kept for a category).
 */
@ExtendWith(ClusterLeakCheck.class)
class BusLineKeysTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10));
    }

    @Test
    void aRedisThatCannotBeReachedIsNamedHostPortWithItsIpv6HostInBrackets() throws Exception {
        int port = RedisServer.freePort(); // nothing listens there: every attempt is refused
        ClusterConfig config = ClusterConfig.builder("a").redisAddress("[::1]:" + port)
                .connectTimeout(Duration.ofSeconds(1)).commandTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(250)).build();
        // ::1 resolved to the IPv4 loopback: the test needs no IPv6 on the machine, only the name
        RedisBus bus = RedisBus.create(config, host -> new InetAddress[] {InetAddress.getLoopbackAddress()});
        try (LogCapture log = LogCapture.of(RedisBus.class.getName())) {
            bus.subscribe("a", new CountingListener());
            await("cluster.bus.unreachable").until(() -> !log.events("cluster.bus.unreachable").isEmpty());
            Map<String, Object> line = LogCapture.fields(log.events("cluster.bus.unreachable").getFirst());
            assertThat(line).containsEntry("redis", "[::1]:" + port).containsKey("retryIn").doesNotContainKey("reason")
                    .hasEntrySatisfying("error", e -> assertThat(e).asString().isNotBlank());
            assertThatThrownBy(() -> bus.publishAll(new byte[] {1})).isInstanceOf(BusException.class)
                    .hasMessageStartingWith("redis [::1]:" + port + ": ");
        } finally {
            bus.close();
        }
    }

    @Test
    void aLostSubscriptionSaysWhyUnderError() throws Exception {
        try (RedisServer redis = RedisServer.start(dir); LogCapture log = LogCapture.of(RedisBus.class.getName())) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            try {
                CountingListener listener = new CountingListener();
                bus.subscribe("a", listener);
                await("connected").until(bus::isConnected);
                redis.stop();
                await("cluster.bus.lost").until(() -> !log.events("cluster.bus.lost").isEmpty());
            } finally {
                bus.close();
            }
            ILoggingEvent lost = log.events("cluster.bus.lost").getFirst();
            assertThat(LogCapture.fields(lost)).containsEntry("redis", redis.address()).doesNotContainKey("reason")
                    .hasEntrySatisfying("error", e -> assertThat(e).asString().isNotBlank());
            assertThat(LogCapture.fields(log.events("cluster.bus.connected").getFirst())).containsEntry("redis", redis.address());
        }
    }
}
