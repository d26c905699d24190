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
 * withdrawing the node's names left the bus open, subscribed, and the delivery thread running. Nor
 * does anything else: the bus's {@code isConnected()} throwing, or close()'s own lines failing to
 * be made (out of memory, an Error from an appender: {@link FailingLog}), which escaped it too.
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
            Presence failingWithdraw = failingWithdraw(busA, withdrawThrew);
            ClusterBus failingClose = new Around(busA) {
                @Override
                public void close() {
                    super.close();
                    closeThrew.set(true);
                    throw new NoClassDefFoundError("test: com/example/BusMetrics");
                }
            };
            try (Node a = Node.start(Node.config("a", redis).build(), failingClose, UnaryOperator.identity(), failingWithdraw);
                    TestClient alice = TestClient.connect(a.address())) {
                aliceAnnounced(a, alice, busA);

                assertThatCode(a.cluster::close).as("close() with the withdraw and the bus's close throwing").doesNotThrowAnyException();

                assertThat(withdrawThrew).as("the withdraw threw").isTrue();
                assertThat(closeThrew).as("the bus's close threw").isTrue();
                assertClosedToItsEnd(busA);
                assertThat(log.events("cluster.stop")).as("close() done to its end").hasSize(1);
            }
        }
    }

    /**
     * close() asks the bus whether it is connected before withdrawing the names: anything that
     * throws (the application's bus) is taken as down, logged ({@code cluster.close.bus}, whose
     * line fails here too), and the close goes on. It escaped close() before anything was done.
     */
    @Test
    void theBusThrowingWhenAskedWhetherItIsConnectedDoesNotStopClose() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus busA = RedisBus.create(Node.config("a", redis).build());
                LogCapture log = LogCapture.of(RealClusterFanout.class.getName())) {
            AtomicBoolean closing = new AtomicBoolean();
            AtomicBoolean threw = new AtomicBoolean();
            ClusterBus failingIsConnected = new Around(busA) {
                @Override
                public boolean isConnected() {
                    if (closing.get() && threw.compareAndSet(false, true)) {
                        throw new NoClassDefFoundError("test: com/example/BusHealth");
                    }
                    return super.isConnected();
                }
            };
            try (Node a = Node.start(Node.config("a", redis).build(), failingIsConnected, UnaryOperator.identity(), busA);
                    FailingLog line = FailingLog.onFirst(RealClusterFanout.class.getName(), "cluster.close.bus")) {
                Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(a.cluster::isConnected);
                closing.set(true);

                assertThatCode(a.cluster::close).as("close() with isConnected and its line throwing").doesNotThrowAnyException();

                assertThat(threw).as("isConnected threw").isTrue();
                assertThat(line.hasThrown()).as("the line for it threw").isTrue();
                assertClosedToItsEnd(busA);
                assertThat(log.events("cluster.stop")).as("close() done to its end").hasSize(1);
            }
        }
    }

    /**
     * Every line of close() may fail to be made (out of memory, an Error from an appender): the one
     * for a failed withdraw, for the bus's close that threw, and {@code cluster.stop}. The first
     * used to escape close() before the bus was closed, the second before the delivery thread was
     * ended, the third from close() itself, which never throws.
     */
    @Test
    void closesLinesFailingDoesNotStopClose() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus busA = RedisBus.create(Node.config("a", redis).build())) {
            AtomicBoolean withdrawThrew = new AtomicBoolean();
            AtomicBoolean closeThrew = new AtomicBoolean();
            Presence failingWithdraw = failingWithdraw(busA, withdrawThrew);
            ClusterBus failingClose = new Around(busA) {
                @Override
                public void close() {
                    super.close();
                    closeThrew.set(true);
                    throw new NoClassDefFoundError("test: com/example/BusMetrics");
                }
            };
            String logger = RealClusterFanout.class.getName();
            try (Node a = Node.start(Node.config("a", redis).build(), failingClose, UnaryOperator.identity(), failingWithdraw);
                    TestClient alice = TestClient.connect(a.address());
                    FailingLog withdrawLine = FailingLog.onFirst(logger, "cluster.close.withdraw");
                    FailingLog busLine = FailingLog.onFirst(logger, "cluster.close.bus");
                    FailingLog stopLine = FailingLog.onFirst(logger, "cluster.stop")) {
                aliceAnnounced(a, alice, busA);

                assertThatCode(a.cluster::close).as("close() with its lines throwing").doesNotThrowAnyException();

                assertThat(withdrawThrew).as("the withdraw threw").isTrue();
                assertThat(closeThrew).as("the bus's close threw").isTrue();
                assertThat(withdrawLine.hasThrown()).as("the withdraw's line threw").isTrue();
                assertThat(busLine.hasThrown()).as("the bus's line threw").isTrue();
                assertThat(stopLine.hasThrown()).as("cluster.stop threw").isTrue();
                assertClosedToItsEnd(busA);
            }
        }
    }

    /** Node {@code a} connected, {@code alice} bound on it, and her presence seen in Redis. */
    private static void aliceAnnounced(Node a, TestClient alice, RedisBus busA) throws Exception {
        Awaitility.await("connected").atMost(Duration.ofSeconds(20)).until(a.cluster::isConnected);
        assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                .isEqualTo("ok");
        Awaitility.await("alice announced").atMost(Duration.ofSeconds(20))
                .until(() -> busA.nodes(Scope.USER, "alice").equals(Set.of("a")));
    }

    private static void assertClosedToItsEnd(RedisBus busA) {
        assertThat(busA.isConnected()).as("the bus, closed").isFalse();
        assertThat(ClusterThreads.live()).as("the delivery and presence threads, joined by close()")
                .noneMatch(t -> t.getName().equals("stcp-cluster-a-deliver") || t.getName().equals("stcp-cluster-a-presence"));
    }

    /** The application's own presence around Redis's: every withdraw throws an Error, as a class missing would. */
    private static Presence failingWithdraw(RedisBus bus, AtomicBoolean threw) {
        return new Presence() {
            @Override
            public Set<String> nodes(Scope scope, String name) {
                return bus.nodes(scope, name);
            }

            @Override
            public void announce(String nodeId, Scope scope, Collection<String> names) {
                bus.announce(nodeId, scope, names);
            }

            @Override
            public void withdraw(String nodeId, Scope scope, Collection<String> names) {
                threw.set(true);
                throw new NoClassDefFoundError("test: com/example/PresenceMetrics");
            }
        };
    }

    /** The application's own bus around Redis's: a test overrides what it makes fail. */
    private static class Around implements ClusterBus {
        private final RedisBus bus;

        Around(RedisBus bus) {
            this.bus = bus;
        }

        @Override
        public void subscribe(String nodeId, Listener listener) {
            bus.subscribe(nodeId, listener);
        }

        @Override
        public boolean isConnected() {
            return bus.isConnected();
        }

        @Override
        public int publish(Collection<String> nodeIds, byte[] message) {
            return bus.publish(nodeIds, message);
        }

        @Override
        public int publishAll(byte[] message) {
            return bus.publishAll(message);
        }

        @Override
        public void close() {
            bus.close();
        }
    }
}
