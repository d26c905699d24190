package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.stcp.SendResult;
import io.stcp.cluster.Presence.Scope;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ClusterFanout#announceUser} and {@link ClusterFanout#announceGroup} on a real
 * redis-server: {@code bindUser} returns before the announce reaches Redis (another node finds
 * nobody then), and the future tells when it has — the other nodes find the name from then on —
 * or fails, never hangs: Redis down or stopping, or not answering, a name not bound here, close().
 * Node a's presence can hold its next announce call ({@link GatedPresence}) so that "not yet" is
 * certain, not a race.
 */
@ExtendWith(ClusterLeakCheck.class)
class AnnounceWaitTest {
    @TempDir
    Path dir;

    private RedisServer redis;
    private RedisBus probe;

    @BeforeEach
    void startRedis() throws Exception {
        redis = RedisServer.start(dir);
        probe = RedisBus.create(Node.config("probe", redis).build()); // looks at presence as the nodes see it
        probe.subscribe("probe", new CountingListener());
        await("probe connected").until(probe::isConnected);
    }

    @AfterEach
    void stopRedis() throws Exception {
        probe.close();
        redis.close();
    }

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    /** Redis's presence, whose next announce call, once armed, waits for the test before it is made. */
    private static final class GatedPresence implements Presence {
        final RedisBus redis;
        final AtomicBoolean armed = new AtomicBoolean();
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        GatedPresence(RedisBus redis) {
            this.redis = redis;
        }

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
            redis.announce(nodeId, scope, names);
        }

        @Override
        public Set<String> nodes(Scope scope, String name) {
            return redis.nodes(scope, name);
        }

        @Override
        public void withdraw(String nodeId, Scope scope, Collection<String> names) {
            redis.withdraw(nodeId, scope, names);
        }

        @Override
        public @Nullable String claim(String nodeId, String instance) {
            return redis.claim(nodeId, instance);
        }

        void hold() throws InterruptedException {
            assertThat(held.await(20, TimeUnit.SECONDS)).as("an announce held").isTrue();
        }
    }

    private static Node gated(ClusterConfig config, GatedPresence[] presence) throws Exception {
        RedisBus bus = RedisBus.create(config);
        presence[0] = new GatedPresence(bus);
        Node n = Node.start(config, bus, UnaryOperator.identity(), presence[0]);
        await("node " + config.nodeId() + " connected").until(n.cluster::isConnected);
        return n;
    }

    private static void send(TestClient c, String command) throws Exception {
        assertThat(new String(c.roundTrip(command.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8)).isEqualTo("ok");
    }

    /** The failure of {@code f}, which must come within {@code bound} from now: a future still pending later hangs, for the test. */
    private static Throwable failure(CompletableFuture<Void> f, Duration bound) {
        long start = System.nanoTime();
        Throwable outcome = catchThrowable(() -> f.get(20, TimeUnit.SECONDS));
        assertThat(outcome).as("the future's outcome").isInstanceOf(ExecutionException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("how long it took to fail").isLessThan(bound);
        return outcome.getCause();
    }

    /**
     * bindUser returns, and another node finds nobody yet (all the old code could show: its first
     * part passes there too); the futures of the names say when every node can find them.
     */
    @Test
    void bindUserReturnsBeforeOtherNodesCanFindTheUserAndTheFutureSaysWhenTheyCan() throws Exception {
        GatedPresence[] p = new GatedPresence[1];
        try (Node a = gated(Node.config("a", redis).build(), p);
                Node b = Node.start(Node.config("b", redis).build());
                TestClient alice = TestClient.connect(a.address())) {
            await("b connected").until(b.cluster::isConnected);
            p[0].armed.set(true);
            send(alice, "user:alice"); // bindUser has returned
            p[0].hold();
            assertThat(probe.nodes(Scope.USER, "alice")).as("alice in Redis").isEmpty();
            assertThat(b.cluster.sendToUser("alice", frame("lost"))).as("b's send to alice").isEqualTo(SendResult.NONE);

            send(alice, "group:room");
            CompletableFuture<Void> user = a.cluster.announceUser("alice");
            CompletableFuture<Void> group = a.cluster.announceGroup("room");
            assertThat(user).as("alice's announce, while the presence thread is held").isNotDone();
            assertThat(group).isNotDone();

            p[0].release.countDown();
            user.get(20, TimeUnit.SECONDS);
            group.get(20, TimeUnit.SECONDS);
            // No waiting from here on: done means in Redis.
            assertThat(probe.nodes(Scope.USER, "alice")).containsExactly("a");
            assertThat(probe.nodes(Scope.GROUP, "room")).containsExactly("a");
            assertThat(b.cluster.sendToUser("alice", frame("hi"))).isEqualTo(new SendResult(0, 0, 0, 0, 1));
            assertThat(alice.readFrame()).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
            a.cluster.announceUser("alice").get(20, TimeUnit.SECONDS); // asked again, announced again
        }
    }

    @Test
    void aNameNotBoundHereFailsAtOnceAndOneUnboundBeforeItsAnnounceFailsThen() throws Exception {
        GatedPresence[] p = new GatedPresence[1];
        try (Node a = gated(Node.config("a", redis).build(), p);
                TestClient alice = TestClient.connect(a.address())) {
            assertThat(failure(a.cluster.announceUser("nobody"), Duration.ofSeconds(2))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("user 'nobody': no connection of this node is bound to it");
            assertThat(failure(a.cluster.announceGroup("nowhere"), Duration.ofSeconds(2))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("group 'nowhere'");

            p[0].armed.set(true);
            send(alice, "user:alice");
            p[0].hold();
            CompletableFuture<Void> f = a.cluster.announceUser("alice");
            alice.close(); // her connection ends: the registry drops her binding
            await("alice unbound").until(() -> a.registry.user("alice").isEmpty());
            p[0].release.countDown();
            assertThat(failure(f, Duration.ofSeconds(10))).isInstanceOf(IllegalStateException.class).hasMessageContaining("user 'alice'");
        }
    }

    @Test
    void anAnnounceAskedWhileRedisIsDownFailsAtOnce() throws Exception {
        try (Node a = Node.start(Node.config("a", redis).build());
                TestClient alice = TestClient.connect(a.address())) {
            await("a connected").until(a.cluster::isConnected);
            send(alice, "user:alice");
            redis.stop();
            await("a sees Redis gone").until(() -> !a.cluster.isConnected());
            assertThat(failure(a.cluster.announceUser("alice"), Duration.ofSeconds(2))).isInstanceOf(BusException.class)
                    .hasMessageContaining("not connected");
        }
    }

    @Test
    void anAnnounceUnderWayWhenRedisStopsFailsWithinTheCommandTimeout() throws Exception {
        GatedPresence[] p = new GatedPresence[1];
        try (Node a = gated(Node.config("a", redis).build(), p);
                TestClient alice = TestClient.connect(a.address())) {
            send(alice, "user:alice");
            await("alice announced").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
            p[0].armed.set(true);
            CompletableFuture<Void> f = a.cluster.announceUser("alice");
            p[0].hold(); // its announce, or a refresh's before it
            redis.stop();
            p[0].release.countDown();
            // commandTimeout 1 s; a refused connect or a closed connection fails at once
            assertThat(failure(f, Duration.ofSeconds(5))).isInstanceOf(BusException.class);
        }
    }

    @Test
    void anAnnounceToARedisThatStopsAnsweringFailsWithinAboutTwoCommandTimeouts() throws Exception {
        try (BlackHoleProxy proxy = new BlackHoleProxy(redis.port());
                Node a = Node.start(Node.config("a", redis).redisAddress(proxy.address()).build());
                TestClient alice = TestClient.connect(a.address())) {
            await("a connected").until(a.cluster::isConnected);
            send(alice, "user:alice");
            await("alice announced").until(() -> probe.nodes(Scope.USER, "alice").equals(Set.of("a")));
            proxy.blackHole(); // a's connections stay open and hear nothing
            // the call under way, then its own, each cut at commandTimeout (1 s): 1.0 s measured
            assertThat(failure(a.cluster.announceUser("alice"), Duration.ofSeconds(6))).isInstanceOf(BusException.class);
        }
    }

    /**
     * A caller's dependent stage that blocks holds up no other caller's future. The futures were
     * completed on the common pool, which has one worker on a 2-core machine: the second future
     * waited there until the first one's stage ended. So as many stages block as the pool has
     * workers, and one more future must complete all the same.
     */
    @Test
    void aBlockingDependentStageDoesNotHoldUpAnotherFuture() throws Exception {
        int blocking = ForkJoinPool.getCommonPoolParallelism();
        GatedPresence[] p = new GatedPresence[1];
        List<TestClient> clients = new ArrayList<>();
        CountDownLatch entered = new CountDownLatch(blocking);
        CountDownLatch release = new CountDownLatch(1);
        try (Node a = gated(Node.config("a", redis).build(), p)) {
            for (int i = 0; i <= blocking; i++) {
                clients.add(TestClient.connect(a.address()));
            }
            p[0].armed.set(true);
            send(clients.get(0), "user:u0");
            p[0].hold(); // the presence thread is held: the futures below cannot be done before their stages are added
            for (int i = 1; i <= blocking; i++) {
                send(clients.get(i), "user:u" + i);
                a.cluster.announceUser("u" + i).thenRun(() -> {
                    entered.countDown();
                    try {
                        release.await(20, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            try {
                p[0].release.countDown();
                assertThat(entered.await(20, TimeUnit.SECONDS)).as("every blocking stage runs").isTrue();
                assertThat(a.cluster.announceUser("u0")).as("another future, while %d stages block", blocking)
                        .succeedsWithin(Duration.ofSeconds(10));
            } finally {
                release.countDown();
                for (TestClient c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void closeFailsTheAnnouncesWaitedForAtOnce() throws Exception {
        GatedPresence[] p = new GatedPresence[1];
        try (Node a = gated(Node.config("a", redis).build(), p);
                TestClient alice = TestClient.connect(a.address())) {
            p[0].armed.set(true);
            send(alice, "user:alice");
            p[0].hold();
            CompletableFuture<Void> f = a.cluster.announceUser("alice");
            Thread closing = Thread.ofVirtual().start(a.cluster::close); // waits for the held call
            try {
                assertThat(failure(f, Duration.ofSeconds(10))).isInstanceOf(BusException.class).hasMessageContaining("closed");
            } finally {
                p[0].release.countDown();
                closing.join(Duration.ofSeconds(20));
            }
            assertThat(closing.isAlive()).as("close() still running").isFalse();
            assertThat(failure(a.cluster.announceUser("alice"), Duration.ofSeconds(2))).as("asked after close()").isInstanceOf(BusException.class)
                    .hasMessageContaining("closed");
        }
    }
}
