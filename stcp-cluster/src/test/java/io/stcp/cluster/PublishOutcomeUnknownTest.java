package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import redis.clients.jedis.Jedis;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster send whose publish Redis ran but whose reply never came must not be reported as sent
 * on this node only: the other nodes got it. It is reported as of unknown outcome, and counted
 * apart; a publish whose commands were never answered, so never executed, still fails as not sent.
 */
@ExtendWith(ClusterLeakCheck.class)
class PublishOutcomeUnknownTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void aPublishWhoseExecRanButWhoseReplyNeverCameIsReportedAsOfUnknownOutcome() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                Node a = Node.start(Node.config("a", redis).redisAddress(proxy.address()).build());
                Node b = Node.start(Node.config("b", redis).build());
                TestClient bob = TestClient.connect(b.address())) {
            await("both connected").until(() -> a.cluster.isConnected() && b.cluster.isConnected());
            assertThat(text(bob.roundTrip("user:bob".getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");
            await("bob present on b").until(() -> a.cluster.sendToUser("bob", frame("hello")).forwarded() == 1);
            assertThat(text(bob.readFrame())).isEqualTo("hello");
            long published = a.cluster.stats().published();

            // Redis never answers the queued commands: EXEC is never sent, nothing is published.
            proxy.stallRepliesFrom("MULTI");
            ClusterUnavailableException notSent = catchThrowableOfType(ClusterUnavailableException.class,
                    () -> a.cluster.sendToUser("bob", frame("never")));
            assertThat(notSent).as("a send whose commands were not answered").isNotNull();
            assertThat(notSent.outcomeUnknown()).as("outcome unknown: " + notSent.getMessage()).isFalse();
            assertThat(notSent.getMessage()).contains("sent on this node only");
            assertThat(a.cluster.stats().unavailable()).isEqualTo(1);
            assertThat(a.cluster.stats().outcomeUnknown()).isZero();

            // Redis runs EXEC, and its reply is held back: bob gets the message, a cannot know it.
            proxy.stallRepliesFrom("EXEC");
            ClusterUnavailableException unknown = catchThrowableOfType(ClusterUnavailableException.class,
                    () -> a.cluster.sendToUser("bob", frame("maybe")));
            assertThat(unknown).as("a send whose EXEC reply never came").isNotNull();
            assertThat(unknown.outcomeUnknown()).as("outcome unknown: " + unknown.getMessage()).isTrue();
            assertThat(unknown.getMessage()).contains("outcome").doesNotContain("this node only");
            assertThat(unknown.localResult().recipients()).isZero();
            assertThat(text(bob.readFrame())).as("what bob gets after hello (never was not published)").isEqualTo("maybe");
            assertThat(a.cluster.stats().outcomeUnknown()).isEqualTo(1);
            assertThat(a.cluster.stats().unavailable()).as("not counted as lost").isEqualTo(1);
            assertThat(a.cluster.stats().published()).isEqualTo(published);

            // Nothing was sent again: the next message is the next bob gets.
            await("a publishes again").until(() -> a.cluster.sendToUser("bob", frame("after")).forwarded() == 1);
            assertThat(text(bob.readFrame())).isEqualTo("after");
        }
    }

    /** A refused MULTI leaves the commands after it to run on their own: the publish may have reached nodes. */
    @Test
    void aPublishWhoseMultiIsRefusedIsReportedAsOfUnknownOutcome() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                Node a = Node.start(Node.config("a", redis).build());
                Node b = Node.start(Node.config("b", redis).build());
                TestClient bob = TestClient.connect(b.address());
                Jedis admin = new Jedis("127.0.0.1", redis.port())) {
            await("both connected").until(() -> a.cluster.isConnected() && b.cluster.isConnected());
            assertThat(text(bob.roundTrip("user:bob".getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");
            await("bob present on b").until(() -> a.cluster.sendToUser("bob", frame("hello")).forwarded() == 1);
            assertThat(text(bob.readFrame())).isEqualTo("hello");

            admin.aclSetUser("default", "-multi");
            ClusterUnavailableException unknown = catchThrowableOfType(ClusterUnavailableException.class,
                    () -> a.cluster.sendToUser("bob", frame("unqueued")));
            assertThat(unknown).as("a send whose MULTI was refused").isNotNull();
            assertThat(unknown.outcomeUnknown()).as("outcome unknown: " + unknown.getMessage()).isTrue();
            assertThat(text(bob.readFrame())).as("the PUBLISH ran on its own").isEqualTo("unqueued");
            assertThat(a.cluster.stats().outcomeUnknown()).isEqualTo(1);

            admin.aclSetUser("default", "+multi");
            await("a publishes again").until(() -> a.cluster.sendToUser("bob", frame("after")).forwarded() == 1);
            assertThat(text(bob.readFrame())).isEqualTo("after");
        }
    }
}
