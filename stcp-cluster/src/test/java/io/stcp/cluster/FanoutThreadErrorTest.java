package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.RealClusterFanout;
import io.stcp.testing.TestClient;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@link Error} on one of the cluster's own threads — out of memory while a message is decoded,
 * a class missing from a hand-made class path, or thrown by a {@link Presence} of the
 * application's — does not end it. On the delivery thread it costs the message it came with: the
 * next is delivered. On the presence thread it fails that step as a bus failure does: counted,
 * done again after the back-off. Either used to end the thread: every later message waited in the
 * queue until it overflowed, or no name was announced again, with no stcp log line.
 */
@ExtendWith(ClusterLeakCheck.class)
class FanoutThreadErrorTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    /** {@code registry} as the cluster sees it: its first {@code broadcast} throws {@code thrown}'s Error. */
    private static UnaryOperator<ConnectionRegistry> broadcastFailingOnce(AtomicBoolean thrown) {
        return registry -> (ConnectionRegistry) Proxy.newProxyInstance(ConnectionRegistry.class.getClassLoader(),
                new Class<?>[] {ConnectionRegistry.class}, (proxy, method, args) -> {
                    if (method.getName().equals("broadcast") && thrown.compareAndSet(false, true)) {
                        // on the delivery thread, as an allocation while decoding could; not an
                        // OutOfMemoryError, which a test JVM may take as fatal
                        throw new NoClassDefFoundError("test: io/stcp/SendResult");
                    }
                    try {
                        return method.invoke(registry, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void anErrorInADeliveryCostsThatMessageOnlyAndTheNextIsDelivered() throws Exception {
        AtomicBoolean thrown = new AtomicBoolean();
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus busA = RedisBus.create(Node.config("a", redis).build());
                Node a = Node.start(Node.config("a", redis).build(), busA, broadcastFailingOnce(thrown), busA);
                Node b = Node.start(Node.config("b", redis).build());
                TestClient alice = TestClient.connect(a.address())) {
            await("both connected").until(() -> a.cluster.isConnected() && b.cluster.isConnected());
            assertThat(new String(alice.roundTrip("ping".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8)).isEqualTo("pong");

            b.cluster.broadcast(frame("first"));
            await("the Error thrown on a's delivery thread").untilTrue(thrown);
            b.cluster.broadcast(frame("second"));

            assertThat(alice.readFrame()).isEqualTo("second".getBytes(StandardCharsets.UTF_8));
            // counted once the delivery's put has returned, which may be after alice has read it
            await("the second delivery counted").until(() -> a.cluster.stats().delivered() >= 1);
            assertThat(a.cluster.stats().received()).isEqualTo(2);
            assertThat(a.cluster.stats().delivered()).isEqualTo(1);
        }
    }

    @Test
    void anErrorFromTheApplicationsPresenceFailsThatStepOnlyAndTheNameIsAnnouncedAfterTheBackOff() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build()); // looks at presence as another node does
                RedisBus busA = RedisBus.create(Node.config("a", redis).build())) {
            AtomicBoolean thrown = new AtomicBoolean();
            Presence failingOnce = failingOnce(busA, thrown);
            try (Node a = Node.start(Node.config("a", redis).build(), busA, UnaryOperator.identity(), failingOnce);
                    TestClient alice = TestClient.connect(a.address())) {
                probe.subscribe("probe", new CountingListener());
                await("both connected").until(() -> probe.isConnected() && a.cluster.isConnected());
                assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                        .isEqualTo("ok");

                await("alice announced after the Error").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
                assertThat(thrown).as("the Error was thrown").isTrue();
                assertThat(a.cluster.stats().presenceFailures()).as("presence failures").isEqualTo(1);
            }
        }
    }

    /**
     * An Error thrown by the line for a failed step ({@code cluster.presence.failed}: out of memory
     * making it, an Error from an appender) does not end the presence thread either: it came from
     * within the catch meant to keep the thread going, and ended it; no name was announced again.
     */
    @Test
    void anErrorLoggingAFailedPresenceStepDoesNotEndThePresenceThread() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build());
                RedisBus busA = RedisBus.create(Node.config("a", redis).build());
                FailingLog line = FailingLog.onFirst(RealClusterFanout.class.getName(), "cluster.presence.failed")) {
            AtomicBoolean thrown = new AtomicBoolean();
            Presence failingOnce = failingOnce(busA, thrown);
            try (Node a = Node.start(Node.config("a", redis).build(), busA, UnaryOperator.identity(), failingOnce);
                    TestClient alice = TestClient.connect(a.address())) {
                probe.subscribe("probe", new CountingListener());
                await("both connected").until(() -> probe.isConnected() && a.cluster.isConnected());
                assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                        .isEqualTo("ok");

                await("alice announced after the Error and its failed line")
                        .until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
                assertThat(line.hasThrown()).as("the step's line threw").isTrue();
                assertThat(a.cluster.stats().presenceFailures()).as("presence failures").isEqualTo(1);
            }
        }
    }

    /**
     * The presence thread asks the bus whether it is connected before it takes the names changed:
     * an Error there (from an application's {@link ClusterBus}) takes nothing, and is a failed step.
     */
    @Test
    void anErrorFromTheBusBeforeAStepIsAFailedStepAndTheNameIsAnnouncedAfterTheBackOff() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build());
                RedisBus busA = RedisBus.create(Node.config("a", redis).build())) {
            AtomicBoolean thrown = new AtomicBoolean();
            ClusterBus failingOnce = new ClusterBus() { // the application's own, around Redis's
                @Override
                public void subscribe(String nodeId, Listener listener) {
                    busA.subscribe(nodeId, listener);
                }

                @Override
                public boolean isConnected() {
                    if (Thread.currentThread().getName().endsWith("-presence") && busA.isConnected()
                            && thrown.compareAndSet(false, true)) {
                        throw new NoClassDefFoundError("test: com/example/BusHealth");
                    }
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
                }
            };
            try (Node a = Node.start(Node.config("a", redis).build(), failingOnce, UnaryOperator.identity(), busA);
                    TestClient alice = TestClient.connect(a.address())) {
                probe.subscribe("probe", new CountingListener());
                await("the Error thrown on a's presence thread").untilTrue(thrown);
                await("both connected").until(() -> probe.isConnected() && a.cluster.isConnected());
                assertThat(new String(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
                        .isEqualTo("ok");

                await("alice announced after the Error").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
                assertThat(a.cluster.stats().presenceFailures()).as("presence failures").isEqualTo(1);
            }
        }
    }

    /** The application's own presence around Redis's: its first announce throws an Error, as a class missing would. */
    private static Presence failingOnce(RedisBus bus, AtomicBoolean thrown) {
        return new Presence() {
            @Override
            public Set<String> nodes(Scope scope, String name) {
                return bus.nodes(scope, name);
            }

            @Override
            public void announce(String nodeId, Scope scope, Collection<String> names) {
                if (thrown.compareAndSet(false, true)) {
                    throw new NoClassDefFoundError("test: com/example/PresenceMetrics");
                }
                bus.announce(nodeId, scope, names);
            }

            @Override
            public void withdraw(String nodeId, Scope scope, Collection<String> names) {
                bus.withdraw(nodeId, scope, names);
            }
        };
    }
}
