package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A publish that Redis refuses as it queues one of its commands (an ACL without {@code PUBSUB},
 * which the README asks for, or without the channel) fails saying which command Redis refused and
 * why, not only Redis's {@code EXECABORT Transaction discarded because of previous errors}, which
 * names neither; and as not sent (Redis discarded the transaction), so the connection is usable
 * for the next call.
 */
@ExtendWith(ClusterLeakCheck.class)
class PublishRefusedTest {
    @TempDir
    Path dir;

    @Test
    void aCommandRefusedInThePublishIsNamedWithRedissReason() throws Exception {
        try (RedisServer redis = RedisServer.start(dir)) {
            try (Jedis admin = new Jedis("127.0.0.1", redis.port())) {
                admin.aclSetUser("limited", "on", ">pw", "~*", "&*", "+@all", "-pubsub|numsub");
            }
            try (Node a = Node.start(Node.config("a", redis).redisAuth("limited", "pw").build());
                    Node b = Node.start(Node.config("b", redis).build());
                    TestClient bob = TestClient.connect(b.address())) {
                Awaitility.await("both connected").atMost(Duration.ofSeconds(20))
                        .until(() -> a.cluster.isConnected() && b.cluster.isConnected());
                assertThat(new String(bob.roundTrip("user:bob".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                        .isEqualTo("ok");
                try (Jedis look = new Jedis("127.0.0.1", redis.port())) {
                    Awaitility.await("bob present").atMost(Duration.ofSeconds(20)).until(() -> look.exists("test:u:bob"));
                }

                for (int i = 0; i < 2; i++) { // the second on the connection the first used
                    ClusterUnavailableException e = catchThrowableOfType(ClusterUnavailableException.class,
                            () -> a.cluster.sendToUser("bob", frame("hello")));
                    assertThat(e).as("the send's remote part refused").isNotNull();
                    assertThat(e.getMessage()).as("what Redis refused, and why")
                            .contains("NOPERM").contains("pubsub|numsub").contains("sent on this node only");
                    assertThat(e.outcomeUnknown()).isFalse();
                }
                assertThat(a.cluster.stats().unavailable()).isEqualTo(2);
            }
        }
    }
}
