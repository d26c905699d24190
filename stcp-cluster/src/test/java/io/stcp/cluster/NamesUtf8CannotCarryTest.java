package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user id, group name or key that UTF-8 cannot carry (a lone surrogate: JSON's {@code "\\ud800"}
 * makes one) is refused before anything is sent, as an oversized one is. Java's encoder wrote each
 * lone surrogate as {@code '?'}, in the presence key and in the envelope alike, so the send went to
 * whoever had the name with {@code '?'} there: {@code "\\ud800lice"} reached the user {@code "?lice"}
 * on another node (and any other lone surrogate in its place would too), while the user bound as
 * {@code "\\ud800lice"} was never reached from another node.
 */
@ExtendWith(ClusterLeakCheck.class)
class NamesUtf8CannotCarryTest {
    private static final String LONE = "\uD800lice";

    @TempDir
    Path dir;

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void aNameWithALoneSurrogateIsRefusedAndReachesNobodyElse() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                Node a = Node.start(Node.config("a", redis).build());
                Node b = Node.start(Node.config("b", redis).build());
                TestClient other = TestClient.connect(b.address());
                TestClient lone = TestClient.connect(a.address())) {
            Awaitility.await("both connected").atMost(Duration.ofSeconds(20))
                    .until(() -> a.cluster.isConnected() && b.cluster.isConnected() && a.registry.connectionCount() == 1);
            assertThat(text(other.roundTrip("user:?lice".getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");
            Awaitility.await("?lice present on b").atMost(Duration.ofSeconds(20)).ignoreExceptions()
                    .until(() -> a.cluster.sendToUser("?lice", frame("hello")).forwarded() == 1);
            assertThat(text(other.readFrame())).isEqualTo("hello");

            assertThatThrownBy(() -> a.cluster.sendToUser(LONE, frame("not for ?lice")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("userId: ").hasMessageContaining("surrogate");
            assertThatThrownBy(() -> a.cluster.sendToGroup("room", LONE, frame("m")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("key: ").hasMessageContaining("surrogate");
            assertThatThrownBy(() -> a.cluster.joinGroup(a.registry.connections().iterator().next(), "\uDC00room"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("group: ").hasMessageContaining("surrogate");
            assertThatThrownBy(() -> a.cluster.bindUser(a.registry.connections().iterator().next(), LONE))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("userId: ").hasMessageContaining("surrogate");

            a.cluster.sendToUser("?lice", frame("marker"));
            assertThat(text(other.readFrame())).as("?lice's next message: nothing meant for another name before it").isEqualTo("marker");
            assertThat(a.cluster.stats().published()).isEqualTo(2);
            assertThat(a.cluster.sendToUser("\uD83D\uDE00lice", frame("a pair is fine")).forwarded()).isZero();
        }
    }
}
