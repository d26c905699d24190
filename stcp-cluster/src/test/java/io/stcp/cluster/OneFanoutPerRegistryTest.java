package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.cluster.Presence.Scope;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * One registry, one {@link ClusterFanout}: a second started on a registry another serves (one per
 * request handler, by mistake) is refused, and changes nothing. It was not: both subscribed and
 * announced the same connections, so every message from another node reached its recipients
 * twice (under a second node id, this node's own sends too), and closing either withdrew the
 * names the other still served. The registry is free again once the first is closed.
 */
@ExtendWith(ClusterLeakCheck.class)
class OneFanoutPerRegistryTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void aSecondFanoutOnARegistryServedIsRefusedAndEachMessageArrivesOnce() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build());
                Node a = Node.start(Node.config("a", redis).build());
                Node b = Node.start(Node.config("b", redis).build());
                TestClient alice = TestClient.connect(a.address())) {
            probe.subscribe("probe", new CountingListener());
            await("connected").until(() -> a.cluster.isConnected() && b.cluster.isConnected() && probe.isConnected());
            assertThat(text(alice.roundTrip("user:alice".getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");

            for (String id : List.of("a", "a2")) { // a per-handler copy of a's config, or one given another id
                assertThatThrownBy(() -> ClusterFanout.start(Node.config(id, redis).build(), a.registry))
                        .as("a second fanout on a's registry, as node %s", id)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("already served by the running ClusterFanout of node 'a'")
                        .hasMessageContaining("share that instance");
            }

            await("alice present on a only").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
            assertThat(b.cluster.sendToUser("alice", frame("once"))).isEqualTo(new SendResult(0, 0, 0, 0, 1));
            assertThat(a.cluster.sendToUser("alice", frame("local"))).as("no twin of a to forward to")
                    .isEqualTo(new SendResult(1, 0, 0, 0, 0));
            assertThat(List.of(text(alice.readFrame()), text(alice.readFrame()))).containsExactlyInAnyOrder("once", "local");
            assertThat(text(alice.roundTrip("ping".getBytes(StandardCharsets.UTF_8)))).as("no second copy").isEqualTo("pong");
            await("a's delivery counted").until(() -> a.cluster.stats().delivered() == 1);
            assertThat(a.cluster.stats().duplicateNode()).as("no twin claimed a's id").isZero();
        }
    }

    /** An {@link InMemoryBus} that records whether it was subscribed and closed. */
    private static final class RecordingBus extends InMemoryBus {
        final AtomicBoolean subscribed = new AtomicBoolean();
        final AtomicBoolean closed = new AtomicBoolean();

        @Override
        public void subscribe(String nodeId, Listener listener) {
            subscribed.set(true);
            super.subscribe(nodeId, listener);
        }

        @Override
        public void close() {
            closed.set(true);
        }
    }

    /** Fanouts started at once on one registry: one runs, every other is refused untouched; closed, it frees the registry. */
    @RepeatedTest(5)
    void ofFanoutsStartedAtOnceOnOneRegistryOneRunsAndItsCloseFreesTheRegistry() throws Exception {
        ConnectionRegistry registry = ConnectionRegistry.create();
        int n = 6;
        CyclicBarrier together = new CyclicBarrier(n);
        List<RecordingBus> buses = new ArrayList<>();
        List<Thread> starters = new ArrayList<>();
        ClusterFanout[] started = new ClusterFanout[n];
        Throwable[] refused = new Throwable[n];
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            int me = i;
            RecordingBus bus = new RecordingBus();
            buses.add(bus);
            starters.add(Thread.ofVirtual().start(() -> {
                try {
                    together.await(20, TimeUnit.SECONDS);
                    started[me] = ClusterFanout.start(ClusterConfig.builder("n" + me).build(), registry, bus, bus);
                } catch (Throwable e) {
                    refused[me] = e;
                } finally {
                    done.countDown();
                }
            }));
        }
        assertThat(done.await(20, TimeUnit.SECONDS)).as("every start returned").isTrue();
        ClusterFanout winner = null;
        for (int i = 0; i < n; i++) {
            if (started[i] != null) {
                assertThat(winner).as("a second fanout running on the registry").isNull();
                winner = started[i];
                assertThat(buses.get(i).subscribed).as("the running one's bus").isTrue();
            } else {
                assertThat(refused[i]).isInstanceOf(IllegalStateException.class).hasMessageContaining("share that instance");
                assertThat(buses.get(i).subscribed).as("a refused one's bus, subscribed").isFalse();
                assertThat(buses.get(i).closed).as("a refused one's bus, the caller's still: closed").isFalse();
            }
        }
        assertThat(winner).as("one of them running").isNotNull();

        winner.close();
        ClusterFanout next = ClusterFanout.start(ClusterConfig.builder("next").build(), registry, new InMemoryBus(), new InMemoryBus());
        next.close();
        for (Thread t : starters) {
            t.join(Duration.ofSeconds(10));
        }
    }

    /** A start that fails after its claim (the application's bus throws as it subscribes) leaves the registry free. */
    @Test
    void aStartThatFailsLeavesTheRegistryFree() {
        ConnectionRegistry registry = ConnectionRegistry.create();
        InMemoryBus failing = new InMemoryBus() {
            @Override
            public void subscribe(String nodeId, Listener listener) {
                throw new IllegalStateException("test: subscribe refused");
            }
        };
        assertThatThrownBy(() -> ClusterFanout.start(ClusterConfig.builder("a").build(), registry, failing, failing))
                .hasMessage("test: subscribe refused");
        InMemoryBus bus = new InMemoryBus();
        ClusterFanout.start(ClusterConfig.builder("a").build(), registry, bus, bus).close();
    }
}
