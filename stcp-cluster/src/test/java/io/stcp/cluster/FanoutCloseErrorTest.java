package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.ClusterThreads;
import io.stcp.cluster.internal.RealClusterFanout;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@link Error} from an application's {@link Presence} or {@link ClusterBus} while the cluster
 * closes (a class missing from a hand-made class path, out of memory) does not stop
 * {@link ClusterFanout#close()}: the bus is closed, the module's threads end and {@code cluster.stop}
 * is logged. Either used to escape close() (only a RuntimeException was caught): an Error
 * withdrawing the node's names left the bus open, subscribed, and the delivery thread running.
 */
@ExtendWith(ClusterLeakCheck.class)
class FanoutCloseErrorTest {
    @TempDir
    Path dir;

    @Test
    void anErrorWithdrawingTheNamesOrClosingTheBusDoesNotStopClose() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus busA = RedisBus.create(Node.config("a", redis).build());
                LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            AtomicBoolean withdrawThrew = new AtomicBoolean();
            AtomicBoolean closeThrew = new AtomicBoolean();
            Presence failingWithdraw = new Presence() { // the application's own, around Redis's
                @Override
                public Set<String> nodes(Scope scope, String name) {
                    return busA.nodes(scope, name);
                }

                @Override
                public void announce(String nodeId, Scope scope, Collection<String> names) {
                    busA.announce(nodeId, scope, names);
                }

                @Override
                public void withdraw(String nodeId, Scope scope, Collection<String> names) {
                    withdrawThrew.set(true);
                    throw new NoClassDefFoundError("test: com/example/PresenceMetrics");
                }
            };
            ClusterBus failingClose = new ClusterBus() { // the application's own, around Redis's
                @Override
                public void subscribe(String nodeId, Listener listener) {
                    busA.subscribe(nodeId, listener);
                }

                @Override
                public boolean isConnected() {
                    return busA.isConnected();
                }

                @Override
                public int publish(Collection<String> nodeIds, byte[] message) {
                    return busA.publish(nodeIds, message);
                }

                @Override
                public int publishAll(byte[] message) {
                    return busA.publishAll(message);
                }

                @Override
                public void close() {
                    busA.close();
                    closeThrew.set(true);
                    throw new NoClassDefFoundError("test: com/example/BusMetrics");
                }
            };
            try (Node a = Node.start(Node.config("a", redis).build(), failingClose, UnaryOperator.identity(), failingWithdraw);
                    TestClient alice = TestClient.connect(a.address())) {
                Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(a.cluster::isConnected);
                assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                        .isEqualTo("ok");
                Awaitility.await("alice announced").atMost(Duration.ofSeconds(20))
                        .until(() -> busA.nodes(Scope.USER, "alice").equals(Set.of("a")));

                assertThatCode(a.cluster::close).as("close() with the withdraw and the bus's close throwing").doesNotThrowAnyException();

                assertThat(withdrawThrew).as("the withdraw threw").isTrue();
                assertThat(closeThrew).as("the bus's close threw").isTrue();
                assertThat(busA.isConnected()).as("the bus, closed").isFalse();
                assertThat(ClusterThreads.live()).as("the delivery and presence threads, joined by close()")
                        .noneMatch(t -> t.getName().equals("stcp-cluster-a-deliver") || t.getName().equals("stcp-cluster-a-presence"));
                assertThat(log.events("cluster.stop")).as("close() done to its end").hasSize(1);
            }
        }
    }
}
