package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A reconnect makes the node announce its presence again at once, even past a failed round's
 * back-off. That holds too when the round fails while the bus reconnects (the round was under
 * way on the old connection, and fails after the reconnect): the reconnect must not be lost to
 * the hold that failure sets. And the full refresh it makes withdraws a name whose announce
 * failed after reaching Redis (the connection lost before the reply came) and that the registry
 * no longer has: that entry must not stay until the presence TTL.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceRetryAfterReconnectTest {

    /**
     * A presence store whose announces are counted and whose users are kept; once armed, its next
     * announce keeps its names, waits for the test, then fails: Redis did it, and the connection
     * was lost before its reply.
     */
    private static final class ReplyLostBus extends InMemoryBus {
        final AtomicInteger announces = new AtomicInteger();
        final Set<String> users = ConcurrentHashMap.newKeySet();
        final AtomicBoolean armed = new AtomicBoolean();
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void announce(String nodeId, Scope scope, Collection<String> names) {
            announces.incrementAndGet();
            if (scope == Scope.USER) {
                users.addAll(names);
            }
            if (armed.compareAndSet(true, false)) {
                held.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new BusException("redis: presence announce failed: Unexpected end of stream. (played)");
            }
        }

        @Override
        public void withdraw(String nodeId, Scope scope, Collection<String> names) {
            if (scope == Scope.USER) {
                users.removeAll(names);
            }
        }
    }

    @Test
    void aNameWhoseAnnounceReachedRedisAndFailedIsWithdrawnByTheRefreshOnReconnectOnceItIsLeft() throws Exception {
        ReplyLostBus bus = new ReplyLostBus();
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        TestClient client = TestClient.connect(server.address());
        Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
        Sender s = registry.connections().iterator().next();
        // No back-off and no periodic refresh in the test's time: only the reconnect's full refresh runs.
        ClusterFanout cluster = ClusterFanout.start(ClusterConfig.builder("a")
                .reconnectDelay(Duration.ofHours(1)).reconnectMaxDelay(Duration.ofHours(1))
                .presenceRefresh(Duration.ofHours(1)).presenceTtl(Duration.ofHours(2)).build(), registry, bus, bus);
        try {
            bus.armed.set(true);
            cluster.bindUser(s, "alice"); // announced in the store; the call waits, then fails
            assertThat(bus.held.await(20, TimeUnit.SECONDS)).as("alice's announce under way").isTrue();
            bus.listener.onDisconnected("played"); // the connection lost: a full refresh is due, alice is not kept for a retry
            cluster.bindUser(s, "bob"); // alice left, bob bound, while the bus is down
            bus.release.countDown();
            Awaitility.await("the announce failed").atMost(Duration.ofSeconds(20)).until(() -> cluster.stats().presenceFailures() == 1);
            bus.listener.onConnected();
            Awaitility.await("presence as the registry has it").atMost(Duration.ofSeconds(20)).until(() -> bus.users.equals(Set.of("bob")));
        } finally {
            bus.release.countDown();
            cluster.close();
            client.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void aRoundThatFailsWhileTheBusReconnectsIsRepeatedAtOnce() throws Exception {
        ReplyLostBus bus = new ReplyLostBus();
        ConnectionRegistry registry = ConnectionRegistry.create();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).registry(registry).start();
        TestClient client = TestClient.connect(server.address());
        Awaitility.await("the client registered").atMost(Duration.ofSeconds(20)).until(() -> registry.connectionCount() == 1);
        registry.bindUser(registry.connections().iterator().next(), "alice"); // a name: a round announces it
        // Back-off of an hour, and no periodic refresh: only the reconnect can start the next round in time.
        ClusterFanout cluster = ClusterFanout.start(ClusterConfig.builder("a")
                .reconnectDelay(Duration.ofHours(1)).reconnectMaxDelay(Duration.ofHours(1))
                .presenceRefresh(Duration.ofHours(1)).presenceTtl(Duration.ofHours(2)).build(), registry, bus, bus);
        try {
            Awaitility.await("the first round").atMost(Duration.ofSeconds(20)).until(() -> bus.announces.get() >= 1);
            bus.armed.set(true);
            bus.listener.onDisconnected("played");
            bus.listener.onConnected(); // a round starts, and waits in its announce
            assertThat(bus.held.await(20, TimeUnit.SECONDS)).as("the round under way").isTrue();
            int before = bus.announces.get();
            bus.listener.onDisconnected("played"); // the connection that round used is lost, and made again
            bus.listener.onConnected();
            bus.release.countDown(); // the round fails now, after the reconnect
            Awaitility.await("the round repeated").atMost(Duration.ofSeconds(20)).until(() -> bus.announces.get() > before);
            assertThat(cluster.stats().presenceFailures()).isEqualTo(1);
        } finally {
            bus.release.countDown();
            cluster.close();
            client.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }
}
