package io.stcp.cluster;

import static io.stcp.cluster.internal.RealClusterFanout.MAX_PENDING;
import static io.stcp.cluster.internal.RealClusterFanout.MAX_PENDING_CHARS;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.RealClusterFanout;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a node keeps of the names its clients bind and leave, for its presence thread, stays
 * bounded however many distinct names come: nothing while Redis is away or was never reached (the
 * full refresh on connect reads them all from the registry), and at most {@code MAX_PENDING} names
 * of {@code MAX_PENDING_CHARS} chars behind a slow round. Presence is still right afterwards.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceBoundsTest {
    @TempDir
    Path dir;

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    private static Sender onlyConnection(ConnectionRegistry registry) {
        await("the client registered").until(() -> registry.connectionCount() == 1);
        return registry.connections().iterator().next();
    }

    @Test
    void namesBoundAndLeftWhileRedisIsAwayAreNotKeptAndPresenceIsRightWhenItIsBack() throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                RedisBus probe = RedisBus.create(Node.config("probe", redis).build()); // looks at presence as another node does
                Node a = Node.start(Node.config("a", redis).redisAddress(proxy.address()).presenceTtl(Duration.ofMinutes(1)).build());
                TestClient client = TestClient.connect(a.address())) {
            probe.subscribe("probe", new CountingListener());
            RealClusterFanout cluster = (RealClusterFanout) a.cluster;
            Sender s = onlyConnection(a.registry);
            await("both connected").until(() -> probe.isConnected() && cluster.isConnected());
            cluster.bindUser(s, "left-user");
            cluster.joinGroup(s, "left-group");
            await("announced").until(() -> probe.nodes(Scope.USER, "left-user").equals(Set.of("a"))
                    && probe.nodes(Scope.GROUP, "left-group").equals(Set.of("a")));

            proxy.cut(); // Redis, with its data, out of a's reach
            await("a sees Redis gone").until(() -> !cluster.isConnected());
            cluster.leaveGroup(s, "left-group");
            int n = 3 * MAX_PENDING;
            for (int i = 0; i < n; i++) {
                cluster.bindUser(s, "user-" + i);
                cluster.joinGroup(s, "group-" + i);
                cluster.leaveGroup(s, "group-" + i);
                assertThat(cluster.pendingChanges()).as("names waiting after %d rounds", i + 1).isLessThanOrEqualTo(MAX_PENDING);
            }
            cluster.joinGroup(s, "kept-group");
            await("nothing kept while the full refresh is due").until(() -> cluster.pendingChanges() == 0);

            proxy.restore();
            await("a back").until(cluster::isConnected);
            String last = "user-" + (n - 1);
            await("presence as a's registry has it").until(() -> probe.nodes(Scope.USER, last).equals(Set.of("a"))
                    && probe.nodes(Scope.GROUP, "kept-group").equals(Set.of("a"))
                    && probe.nodes(Scope.USER, "left-user").isEmpty()
                    && probe.nodes(Scope.GROUP, "left-group").isEmpty());
            assertThat(probe.nodes(Scope.USER, "user-0")).isEmpty();
            assertThat(probe.nodes(Scope.GROUP, "group-0")).isEmpty();
        }
    }

    @Test
    void namesBoundAndLeftWhileRedisWasNeverReachedAreNotKept() throws Exception {
        ClusterConfig config = ClusterConfig.builder("a").redisAddress("127.0.0.1:" + RedisServer.freePort()) // nothing listens
                .keyPrefix("test:").connectTimeout(Duration.ofSeconds(1)).commandTimeout(Duration.ofSeconds(1))
                .reconnectDelay(Duration.ofMillis(50)).reconnectMaxDelay(Duration.ofMillis(250)).build();
        try (Node a = Node.start(config);
                TestClient client = TestClient.connect(a.address())) {
            RealClusterFanout cluster = (RealClusterFanout) a.cluster;
            Sender s = onlyConnection(a.registry);
            for (int i = 0; i < 3 * MAX_PENDING; i++) {
                cluster.bindUser(s, "user-" + i);
                cluster.joinGroup(s, "group-" + i);
                cluster.leaveGroup(s, "group-" + i);
            }
            assertThat(cluster.isConnected()).isFalse();
            assertThat(cluster.pendingChanges()).isZero();
        }
    }

    /** A presence store in memory that keeps the users announced; once armed, its next announce waits for the test. */
    private static final class GatedBus extends InMemoryBus {
        private final Set<String> users = new HashSet<>(); // guarded by this
        final AtomicBoolean armed = new AtomicBoolean();
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void announce(String nodeId, Scope scope, Collection<String> names) {
            if (armed.compareAndSet(true, false)) {
                held.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (scope == Scope.USER) {
                synchronized (this) {
                    users.addAll(names);
                }
            }
        }

        @Override
        public synchronized void withdraw(String nodeId, Scope scope, Collection<String> names) {
            if (scope == Scope.USER) {
                users.removeAll(names);
            }
        }

        synchronized Set<String> users() {
            return Set.copyOf(users);
        }
    }

    private static String name(int length, int i) {
        String n = "user-" + i + "-";
        return n + "x".repeat(Math.max(0, length - n.length()));
    }

    @ParameterizedTest(name = "names of {0} chars")
    @ValueSource(ints = {10, 10_000})
    void namesPilingUpBehindASlowRoundAreCappedAndAFullRefreshStandsInForThem(int length) throws Exception {
        GatedBus bus = new GatedBus();
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        // No periodic full refresh during the test: only the cap can call for one.
        RealClusterFanout cluster = (RealClusterFanout) ClusterFanout.start(ClusterConfig.builder("a")
                .presenceRefresh(Duration.ofMinutes(1)).presenceTtl(Duration.ofMinutes(2)).build(), registry, bus, bus);
        try (TestClient client = TestClient.connect(server.address())) {
            Sender s = onlyConnection(registry);
            cluster.bindUser(s, name(length, -1));
            await("the first name announced").until(() -> bus.users().equals(Set.of(name(length, -1))));

            bus.armed.set(true);
            cluster.bindUser(s, name(length, 0)); // the presence thread takes it, and waits in its announce
            assertThat(bus.held.await(20, TimeUnit.SECONDS)).as("the presence thread announcing").isTrue();
            long most = Math.min(MAX_PENDING, MAX_PENDING_CHARS / length);
            int n = (int) (3 * most);
            for (int i = 1; i <= n; i++) {
                cluster.bindUser(s, name(length, i));
                assertThat((long) cluster.pendingChanges()).as("names waiting after %d binds", i).isLessThanOrEqualTo(most);
            }
            bus.release.countDown();
            await("only the last name announced").until(() -> bus.users().equals(Set.of(name(length, n))));
        } finally {
            bus.release.countDown();
            cluster.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
