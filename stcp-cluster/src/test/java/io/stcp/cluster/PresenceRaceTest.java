package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionRegistry;
import io.stcp.SendResult;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a node announces follows its registry when bindings through the cluster race: the last
 * member leaving a group while another connection joins it must leave the group announced; a
 * connection rebound by two callers at once must leave announced only the user it ends up with;
 * an exclusive bind, which also unbinds other connections, announces and withdraws as a bind does.
 */
@ExtendWith(ClusterLeakCheck.class)
class PresenceRaceTest {

    /** A bus and a presence store in memory; the presence remembers which users and groups are announced. */
    private static final class RecordingBus extends InMemoryBus {
        private final Set<String> users = new HashSet<>(); // guarded by this
        private final Set<String> groups = new HashSet<>(); // guarded by this

        @Override
        public synchronized void announce(String nodeId, Scope scope, Collection<String> names) {
            (scope == Scope.USER ? users : groups).addAll(names);
        }

        @Override
        public synchronized void withdraw(String nodeId, Scope scope, Collection<String> names) {
            (scope == Scope.USER ? users : groups).removeAll(names);
        }

        synchronized Set<String> users() {
            return Set.copyOf(users);
        }

        synchronized Set<String> groups() {
            return Set.copyOf(groups);
        }
    }

    /**
     * The registry, except that once armed, the first look at whether a group is empty (or, with
     * {@link #armedUserOf}, at a connection's user) finds the answer, then waits for the test
     * before giving it: a thread that looked is held right there.
     */
    private static final class GatedRegistry implements ConnectionRegistry {
        final ConnectionRegistry real = ConnectionRegistry.create();
        final AtomicBoolean armed = new AtomicBoolean();
        final AtomicBoolean armedUserOf = new AtomicBoolean();
        final CountDownLatch looked = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        private void hold() {
            looked.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public Collection<Sender> group(String group) {
            Collection<Sender> view = real.group(group);
            return new AbstractCollection<>() {
                @Override
                public Iterator<Sender> iterator() {
                    return view.iterator();
                }

                @Override
                public int size() {
                    return view.size();
                }

                @Override
                public boolean isEmpty() {
                    boolean empty = view.isEmpty();
                    if (armed.compareAndSet(true, false)) {
                        hold();
                    }
                    return empty;
                }
            };
        }

        // ---- the rest as the real one

        @Override public @Nullable Sender connection(long connectionId) { return real.connection(connectionId); }
        @Override public Collection<Sender> connections() { return real.connections(); }
        @Override public int connectionCount() { return real.connectionCount(); }
        @Override public Collection<Sender> user(String userId) { return real.user(userId); }
        @Override public Set<String> users() { return real.users(); }
        @Override public Set<String> groups() { return real.groups(); }
        @Override
        public @Nullable String userOf(Sender sender) {
            String user = real.userOf(sender);
            if (armedUserOf.compareAndSet(true, false)) {
                hold();
            }
            return user;
        }

        @Override public Set<String> groupsOf(Sender sender) { return real.groupsOf(sender); }
        @Override public boolean bindUser(Sender sender, String userId) { return real.bindUser(sender, userId); }
        @Override public Collection<Sender> bindUserExclusively(Sender sender, String userId) { return real.bindUserExclusively(sender, userId); }
        @Override public boolean unbindUser(Sender sender) { return real.unbindUser(sender); }
        @Override public boolean joinGroup(Sender sender, String group) { return real.joinGroup(sender, group); }
        @Override public boolean leaveGroup(Sender sender, String group) { return real.leaveGroup(sender, group); }
        @Override public SendResult sendTo(long connectionId, byte[] bytes) { return real.sendTo(connectionId, bytes); }
        @Override public SendResult sendTo(long connectionId, int key, byte[] bytes) { return real.sendTo(connectionId, key, bytes); }
        @Override public SendResult sendTo(long connectionId, String key, byte[] bytes) { return real.sendTo(connectionId, key, bytes); }
        @Override public SendResult sendToUser(String userId, byte[] bytes) { return real.sendToUser(userId, bytes); }
        @Override public SendResult sendToUser(String userId, int key, byte[] bytes) { return real.sendToUser(userId, key, bytes); }
        @Override public SendResult sendToUser(String userId, String key, byte[] bytes) { return real.sendToUser(userId, key, bytes); }
        @Override public SendResult sendToGroup(String group, byte[] bytes) { return real.sendToGroup(group, bytes); }
        @Override public SendResult sendToGroup(String group, int key, byte[] bytes) { return real.sendToGroup(group, key, bytes); }
        @Override public SendResult sendToGroup(String group, String key, byte[] bytes) { return real.sendToGroup(group, key, bytes); }
        @Override public SendResult broadcast(byte[] bytes) { return real.broadcast(bytes); }
        @Override public SendResult broadcast(int key, byte[] bytes) { return real.broadcast(key, bytes); }
        @Override public SendResult broadcast(String key, byte[] bytes) { return real.broadcast(key, bytes); }
    }

    /** Node "a" with two connections, its registry gated, its bus recording; no full refresh during a test. */
    private static final class TwoConnections implements AutoCloseable {
        final GatedRegistry registry = new GatedRegistry();
        final RecordingBus bus = new RecordingBus();
        final TcpServer server;
        final ClusterFanout cluster;
        final TestClient c1;
        final TestClient c2;
        final Sender first;
        final Sender second;

        TwoConnections() throws Exception {
            server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                    .registry(registry.real).start();
            // Only the announces and withdrawals of the test's calls: no full refresh meanwhile.
            cluster = ClusterFanout.start(ClusterConfig.builder("a").presenceRefresh(Duration.ofMinutes(1))
                    .presenceTtl(Duration.ofMinutes(2)).build(), registry, bus, bus);
            c1 = TestClient.connect(server.address());
            c2 = TestClient.connect(server.address());
            Awaitility.await("both registered").atMost(Duration.ofSeconds(10)).until(() -> registry.connectionCount() == 2);
            List<Sender> senders = new ArrayList<>(registry.connections());
            first = senders.get(0);
            second = senders.get(1);
        }

        @Override
        public void close() throws Exception {
            registry.release.countDown();
            cluster.close();
            c1.close();
            c2.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void aGroupThatOneConnectionLeavesWhileAnotherJoinsStaysAnnounced() throws Exception {
        try (TwoConnections node = new TwoConnections()) {
            GatedRegistry registry = node.registry;
            RecordingBus bus = node.bus;
            ClusterFanout cluster = node.cluster;
            Sender first = node.first;
            Sender second = node.second;
            assertThat(cluster.joinGroup(first, "room")).isTrue();
            assertThat(cluster.joinGroup(first, "marker")).isTrue();
            Awaitility.await("room and marker announced").atMost(Duration.ofSeconds(10))
                    .until(() -> bus.groups().containsAll(Set.of("room", "marker")));

            // first, room's last member, leaves; whoever looks at whether room is now empty is held
            // right after finding it empty, while second joins room.
            registry.armed.set(true);
            Thread leaving = Thread.ofVirtual().start(() -> cluster.leaveGroup(first, "room"));
            assertThat(registry.looked.await(10, TimeUnit.SECONDS)).as("someone looked at room").isTrue();
            assertThat(cluster.joinGroup(second, "room")).isTrue();
            registry.release.countDown();
            leaving.join(10_000);

            // Withdrawing marker comes after whatever the race left to do.
            assertThat(cluster.leaveGroup(first, "marker")).isTrue();
            Awaitility.await("marker withdrawn").atMost(Duration.ofSeconds(10)).until(() -> !bus.groups().contains("marker"));
            assertThat(registry.group("room")).containsExactly(second);
            assertThat(bus.groups()).as("room has a member here: it must stay announced").contains("room");
        }
    }

    @Test
    void aConnectionReboundByTwoCallersAtOnceLeavesOnlyItsLastUserAnnounced() throws Exception {
        try (TwoConnections node = new TwoConnections()) {
            GatedRegistry registry = node.registry;
            RecordingBus bus = node.bus;
            ClusterFanout cluster = node.cluster;
            Sender first = node.first;
            Sender second = node.second;
            assertThat(cluster.bindUser(first, "ann")).isTrue();
            assertThat(cluster.bindUser(second, "marker")).isTrue();
            Awaitility.await("ann and marker announced").atMost(Duration.ofSeconds(10))
                    .until(() -> bus.users().containsAll(Set.of("ann", "marker")));

            // One caller rebinds first to bea and is held right after reading its user (ann); a
            // second caller rebinds it to cid meanwhile: it either gets through (and cid is
            // announced) or waits for the first, without having bound.
            registry.armedUserOf.set(true);
            Thread toBea = Thread.ofVirtual().start(() -> cluster.bindUser(first, "bea"));
            assertThat(registry.looked.await(10, TimeUnit.SECONDS)).as("someone looked at first's user").isTrue();
            Thread toCid = Thread.ofVirtual().start(() -> cluster.bindUser(first, "cid"));
            Awaitility.await("cid bound and announced, or its caller waiting unbound").atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(1))
                    .until(() -> (!toCid.isAlive() && bus.users().contains("cid"))
                            || (toCid.getState() == Thread.State.WAITING && "ann".equals(registry.real.userOf(first))));
            registry.release.countDown();
            toBea.join(10_000);
            toCid.join(10_000);

            // Withdrawing marker comes after whatever the race left to do.
            assertThat(cluster.unbindUser(second)).isTrue();
            Awaitility.await("marker withdrawn").atMost(Duration.ofSeconds(10)).until(() -> !bus.users().contains("marker"));
            String last = registry.userOf(first);
            assertThat(last).isIn("bea", "cid");
            assertThat(bus.users()).as("first is bound to " + last + " only: nothing else may stay announced").containsExactly(last);
        }
    }

    @Test
    void anExclusiveBindKeepsTheUserAnnouncedAndWithdrawsTheOneTheConnectionLeft() throws Exception {
        try (TwoConnections node = new TwoConnections()) {
            RecordingBus bus = node.bus;
            ClusterFanout cluster = node.cluster;
            assertThat(cluster.bindUser(node.first, "ann")).isTrue();
            assertThat(cluster.bindUser(node.second, "bea")).isTrue();
            Awaitility.await("ann and bea announced").atMost(Duration.ofSeconds(10))
                    .until(() -> bus.users().equals(Set.of("ann", "bea")));

            assertThat(cluster.bindUserExclusively(node.second, "ann")).containsExactly(node.first);
            Awaitility.await("bea withdrawn").atMost(Duration.ofSeconds(10)).until(() -> bus.users().equals(Set.of("ann")));
            assertThat(node.registry.user("ann")).containsExactly(node.second);
            assertThat(node.registry.userOf(node.first)).isNull();

            assertThat(cluster.unbindUser(node.second)).isTrue(); // ann's last connection here
            Awaitility.await("ann withdrawn").atMost(Duration.ofSeconds(10)).until(() -> bus.users().isEmpty());
        }
    }
}
