package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ClusterConfigTest {

    @Test
    void defaultsAreTheNamedConstants() {
        ClusterConfig c = ClusterConfig.builder("node-1").build();
        assertThat(c.nodeId()).isEqualTo("node-1");
        assertThat(c.redisAddress()).isEqualTo(ClusterConfig.DEFAULT_REDIS_ADDRESS);
        assertThat(c.redisUser()).isNull();
        assertThat(c.redisPassword()).isNull();
        assertThat(c.keyPrefix()).isEqualTo("stcp:");
        assertThat(c.presenceTtl()).isEqualTo(Duration.ofSeconds(15));
        assertThat(c.presenceRefresh()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.commandTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(c.reconnectDelay()).isEqualTo(Duration.ofMillis(100));
        assertThat(c.reconnectMaxDelay()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.maxMessageBytes()).isEqualTo(1 << 20);
        assertThat(c.inboundQueue()).isEqualTo(10_000);
        assertThat(c.inboundMaxBytes()).isEqualTo(64L << 20);
        assertThat(c.poolSize()).isEqualTo(8);
        assertThat(c.closeTimeout()).isEqualTo(Duration.ofSeconds(10)).isEqualTo(ClusterConfig.DEFAULT_CLOSE_TIMEOUT);
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }

    @Test
    void toBuilderKeepsEveryFieldAndToStringHidesThePassword() {
        ClusterConfig c = ClusterConfig.builder("n").redisAddress("[::1]:6380").redisAuth("stcp", "s3cret").keyPrefix("chat:")
                .presenceTtl(Duration.ofSeconds(30)).presenceRefresh(Duration.ofSeconds(10)).connectTimeout(Duration.ofMillis(500))
                .commandTimeout(Duration.ofMillis(200)).reconnectDelay(Duration.ofMillis(10)).reconnectMaxDelay(Duration.ofSeconds(1))
                .maxMessageBytes(4096).inboundQueue(5).inboundMaxBytes(4096 + 131_148).poolSize(2).closeTimeout(Duration.ofMillis(250)).build();
        assertThat(c.toBuilder().build()).isEqualTo(c);
        assertThat(c.toString()).contains("redisPassword=***", "redisUser=stcp", "presenceTtl=30s", "closeTimeout=250ms").doesNotContain("s3cret");
    }

    @Test
    void everyInvalidFieldIsNamedWithItsValueAndTheExpectation() {
        assertInvalid(b -> b.nodeId(""), "nodeId: \"\" (expected: 1 to 64 of A-Z a-z 0-9 . _ -)");
        assertInvalid(b -> b.nodeId("a b"), "nodeId: \"a b\"");
        assertInvalid(b -> b.nodeId("x".repeat(65)), "nodeId: ");
        // What a Jedis or Lettuce user writes: parsed as the host "redis://127.0.0.1", it was accepted
        // and the node only reconnected, for ever, to a host no lookup finds.
        assertInvalid(b -> b.redisAddress("redis://127.0.0.1:6379"), "redisAddress: \"redis://127.0.0.1:6379\" (expected: host:port without a scheme, such as \"127.0.0.1:6379\"; the password goes to redisPassword");
        assertInvalid(b -> b.redisAddress("rediss://cache:6380"), "redisAddress: \"rediss://cache:6380\" (expected: host:port without a scheme");
        assertInvalid(b -> b.redisAddress("user:pw@cache:6379"), "redisAddress: \"user:pw@cache:6379\" (expected: host:port");
        assertInvalid(b -> b.redisAddress("fe80::1"), "redisAddress: \"fe80::1\" (expected: host:port"); // no brackets: "fe80:", port 1
        assertInvalid(b -> b.redisAddress("::1:6379"), "redisAddress: \"::1:6379\" (expected: host:port");
        assertInvalid(b -> b.redisAddress("cache :6379"), "redisAddress: \"cache :6379\" (expected: host:port");
        assertInvalid(b -> b.redisAddress("[cache]:6379"), "redisAddress: \"[cache]:6379\" (expected: host:port");
        assertInvalid(b -> b.redisAddress("localhost"), "redisAddress: \"localhost\" (expected: host:port, port 1 to 65535; an IPv6 address in brackets: \"[::1]:6379\")");
        for (String fine : new String[] {"redis.internal:6379", "10.0.0.7:6379", "[::1]:6380", "[fe80::1%eth0]:6379",
                "[::ffff:127.0.0.1]:6379", "redis_1:6379"}) {
            assertThat(ClusterConfig.builder("n").redisAddress(fine).build().redisAddress()).isEqualTo(fine);
        }
        assertInvalid(b -> b.redisAddress("localhost:0"), "redisAddress: \"localhost:0\"");
        assertInvalid(b -> b.redisAddress(":6379"), "redisAddress: \":6379\"");
        assertInvalid(b -> b.keyPrefix(""), "keyPrefix: \"\" (expected: 1 to 64 characters, no whitespace)");
        assertInvalid(b -> b.keyPrefix("a b"), "keyPrefix: \"a b\"");
        // Another cluster's "app:" would share their keys and channels: its user "u:bob" is this one's
        // "bob" (app:u:u:bob), its node "all" hears this one's broadcasts (app:node:all).
        assertInvalid(b -> b.keyPrefix("app:u:"), "keyPrefix: \"app:u:\" (expected: ending with ':', no part between colons that is u, g or node");
        assertInvalid(b -> b.keyPrefix("app:g:"), "keyPrefix: \"app:g:\"");
        assertInvalid(b -> b.keyPrefix("app:node:"), "keyPrefix: \"app:node:\"");
        assertInvalid(b -> b.keyPrefix("node:app:"), "keyPrefix: \"node:app:\"");
        // "app" would share them with "appu:" (appu:bob), which ends with ':' but begins with no part of its own
        assertInvalid(b -> b.keyPrefix("app"), "keyPrefix: \"app\" (expected: ending with ':'");
        for (String fine : new String[] {"chat:prod:", "menu:", "nodes:", "a::"}) {
            assertThat(ClusterConfig.builder("n").keyPrefix(fine).build().keyPrefix()).isEqualTo(fine);
        }
        assertInvalid(b -> b.presenceRefresh(Duration.ZERO), "presenceRefresh: 0s (expected: > 0)");
        assertInvalid(b -> b.presenceTtl(Duration.ofMillis(99)).presenceRefresh(Duration.ofMillis(10)), "presenceTtl: 99ms (expected: >= 100ms)");
        assertInvalid(b -> b.presenceTtl(Duration.ofSeconds(9)), "presenceTtl: 9s (expected: >= 2 × presenceRefresh 5s)");
        assertInvalid(b -> b.connectTimeout(Duration.ofMillis(-1)), "connectTimeout: -1ms (expected: > 0)");
        assertInvalid(b -> b.commandTimeout(Duration.ZERO), "commandTimeout: 0s (expected: > 0)");
        assertInvalid(b -> b.reconnectDelay(Duration.ZERO), "reconnectDelay: 0s (expected: >= 1ms)");
        assertInvalid(b -> b.reconnectDelay(Duration.ofNanos(999_999)), "reconnectDelay: 999.999µs (expected: >= 1ms)");
        assertInvalid(b -> b.reconnectMaxDelay(Duration.ofMillis(50)), "reconnectMaxDelay: 50ms (expected: >= reconnectDelay 100ms)");
        assertInvalid(b -> b.maxMessageBytes(0), "maxMessageBytes: 0 (expected: 1 to 16777216)");
        assertInvalid(b -> b.maxMessageBytes((16 << 20) + 1), "maxMessageBytes: 16777217");
        assertInvalid(b -> b.inboundQueue(0), "inboundQueue: 0 (expected: >= 1)");
        assertInvalid(b -> b.maxMessageBytes(4096).inboundMaxBytes(135_243), "inboundMaxBytes: 135243 (expected: >= maxMessageBytes + 131148 = 135244, "
                + "the longest message: the payload with the longest origin, name and key)");
        assertThat(ClusterConfig.builder("n").maxMessageBytes(4096).inboundMaxBytes(135_244).build().inboundMaxBytes()).isEqualTo(135_244);
        // Longer than a year: the deadlines' nanosecond arithmetic would overflow (it used to, as an
        // ArithmeticException from build() or from ClusterFanout.start()).
        assertInvalid(b -> b.commandTimeout(Duration.ofDays(366)), "commandTimeout: 8784h0m0s (expected: at most 365 days)");
        assertInvalid(b -> b.connectTimeout(Duration.ofSeconds(Long.MAX_VALUE)), "connectTimeout: ");
        assertInvalid(b -> b.presenceRefresh(Duration.ofSeconds(Long.MAX_VALUE)), "presenceRefresh: ");
        assertInvalid(b -> b.presenceTtl(Duration.ofDays(400)), "presenceTtl: 9600h0m0s (expected: at most 365 days)");
        assertInvalid(b -> b.reconnectMaxDelay(Duration.ofDays(1000)), "reconnectMaxDelay: ");
        assertInvalid(b -> b.reconnectDelay(Duration.ofDays(1000)).reconnectMaxDelay(Duration.ofDays(1000)), "reconnectDelay: ");
        assertThat(ClusterConfig.builder("n").presenceTtl(Duration.ofDays(365)).commandTimeout(Duration.ofDays(365)).build()
                .commandTimeout()).isEqualTo(Duration.ofDays(365));
        // Without a password Jedis sends no AUTH at all: the user was accepted and never used.
        assertInvalid(b -> b.redisAuth("stcp", null), "redisUser: \"stcp\" without a redisPassword (expected: both,"
                + " or neither for the default user without a password)");
        assertInvalid(b -> b.redisAuth("", "pw"), "redisUser: \"\" (expected: an ACL user's name, or null for the default user)");
        assertThat(ClusterConfig.builder("n").redisPassword("pw").build().redisUser()).isNull();
        assertInvalid(b -> b.poolSize(0), "poolSize: 0 (expected: 1 to 1024)");
        assertInvalid(b -> b.poolSize(1025), "poolSize: 1025");
        assertInvalid(b -> b.closeTimeout(Duration.ZERO), "closeTimeout: 0s (expected: > 0)");
        assertInvalid(b -> b.closeTimeout(Duration.ofMillis(-1)), "closeTimeout: -1ms (expected: > 0)");
        assertInvalid(b -> b.closeTimeout(Duration.ofDays(366)), "closeTimeout: 8784h0m0s (expected: at most 365 days)");
        assertThatThrownBy(() -> ClusterConfig.builder("n").closeTimeout(null).build()).isInstanceOf(NullPointerException.class)
                .hasMessage("closeTimeout");
        assertThatThrownBy(() -> ClusterConfig.builder(null).build()).isInstanceOf(NullPointerException.class).hasMessage("nodeId");
    }

    @Test
    void aNullSettingIsRefusedAtItsSetterByItsName() throws Exception {
        assertThat(io.stcp.testing.NullSettings.assertEachRefusedByName(ClusterConfig.builder("n")))
                .contains("nodeId", "redisAddress", "keyPrefix", "presenceTtl", "commandTimeout", "closeTimeout");
        assertThatThrownBy(() -> ClusterConfig.builder(null)).isInstanceOf(NullPointerException.class).hasMessage("nodeId");
    }

    private static void assertInvalid(UnaryOperator<ClusterConfig.Builder> change, String message) {
        assertThatThrownBy(() -> change.apply(ClusterConfig.builder("n")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(message);
    }
}
