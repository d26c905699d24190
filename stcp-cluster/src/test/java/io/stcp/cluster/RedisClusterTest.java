package io.stcp.cluster;

import static io.stcp.cluster.Node.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.stcp.SendResult;
import io.stcp.cluster.Presence.Scope;
import io.stcp.cluster.internal.Envelope;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.BinaryJedisPubSub;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * Two and three nodes in one JVM — each its own TcpServer, registry and Redis connections — on a
 * real redis-server: sends across nodes, groups spanning nodes, Redis going away and coming back,
 * a node dying without cleanup, garbage on the bus, and clients that only listen to it.
 */
@ExtendWith(ClusterLeakCheck.class)
class RedisClusterTest {
    @TempDir
    Path dir;

    private RedisServer redis;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private RedisBus probe;

    @BeforeEach
    void startRedis() throws IOException {
        redis = RedisServer.start(dir);
        // A bus of its own to look at presence as the nodes see it (it subscribes as node "probe").
        probe = RedisBus.create(Node.config("probe", redis).build());
        probe.subscribe("probe", new CountingListener());
    }

    @AfterEach
    void stopAll() throws Exception {
        Exception failure = null;
        for (AutoCloseable c : closeables.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        probe.close();
        redis.close();
        if (failure != null) {
            throw failure;
        }
    }

    private static ConditionFactory await(String what) {
        return Awaitility.await(what).atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(10)).ignoreExceptions();
    }

    private Node node(String id) throws IOException {
        Node n = Node.start(Node.config(id, redis).build());
        closeables.add(n);
        await("node " + id + " connected to Redis").until(n.cluster::isConnected);
        return n;
    }

    private TestClient login(Node node, String user, String... groups) throws IOException {
        TestClient c = TestClient.connect(node.address());
        closeables.add(c);
        assertThat(text(c.roundTrip(("user:" + user).getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");
        for (String g : groups) {
            assertThat(text(c.roundTrip(("group:" + g).getBytes(StandardCharsets.UTF_8)))).isEqualTo("ok");
        }
        return c;
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String next(TestClient c) throws IOException {
        return text(c.readFrame());
    }

    /** Nothing else is queued for {@code c}: the answer to a ping is its next frame. */
    private static void assertNothingMore(TestClient c) throws IOException {
        assertThat(text(c.roundTrip("ping".getBytes(StandardCharsets.UTF_8)))).isEqualTo("pong");
    }

    private void awaitPresence(Scope scope, String name, String... nodes) {
        await(scope + " " + name + " present on " + List.of(nodes)).until(() -> probe.nodes(scope, name).equals(Set.of(nodes)));
    }

    /**
     * A publish to several nodes writes the message to Redis once per node without copying it per
     * node: Jedis's wrapping of a byte[] argument copies it, so a 1 MiB message to 8 nodes allocated
     * 8 MiB on the sender's thread. Measured on this thread, which makes the call.
     */
    @Test
    void aPublishToSeveralNodesDoesNotCopyTheMessagePerNode() throws Exception {
        Awaitility.await("probe connected").atMost(Duration.ofSeconds(20)).until(probe::isConnected);
        byte[] message = new byte[1 << 20];
        List<String> nodes = List.of("n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8");
        probe.publish(nodes, message); // the connection made, the classes loaded
        long before = allocatedBytes();
        assertThat(probe.publish(nodes, message)).as("nobody subscribes to n1 to n8").isZero();
        long allocated = allocatedBytes() - before;
        assertThat(allocated).as("bytes allocated publishing %d bytes to %d nodes", message.length, nodes.size())
                .isLessThan(message.length / 2);
    }

    private static long allocatedBytes() throws ReflectiveOperationException {
        Object threads = java.lang.management.ManagementFactory.getThreadMXBean();
        return (long) Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes").invoke(threads);
    }

    @Test
    void aUserOnAnotherNodeGetsEveryFormOfSendByteForByte() throws Exception {
        Node a = node("a");
        Node b = node("b");
        TestClient phone = login(a, "alice");
        TestClient desktop = login(a, "alice");
        awaitPresence(Scope.USER, "alice", "a");

        SendResult r = b.cluster.sendToUser("alice", frame("hello"));
        assertThat(r).isEqualTo(new SendResult(0, 0, 0, 0, 1));
        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        b.cluster.sendToUser("alice", Echo.frame(binary));
        b.cluster.sendToUser("alice", 7, frame("int-key"));
        b.cluster.sendToUser("alice", "quote", frame("string-key"));
        for (TestClient c : List.of(phone, desktop)) {
            assertThat(next(c)).isEqualTo("hello");
            assertThat(c.readFrame()).isEqualTo(binary);
            assertThat(next(c)).isEqualTo("int-key");
            assertThat(next(c)).isEqualTo("string-key");
            assertNothingMore(c);
        }
        assertThat(b.cluster.stats().published()).isEqualTo(4);
        await("a's delivery counted").until(() -> a.cluster.stats().delivered() == 8);
        assertThat(a.cluster.stats().received()).isEqualTo(4);
        assertThat(a.cluster.stats().lost()).isZero();
        assertThat(b.cluster.stats().lost()).isZero();
        assertThat(b.cluster.sendToUser("nobody", frame("x"))).as("a user nowhere").isEqualTo(SendResult.NONE);
    }

    @Test
    void aGroupSpanningThreeNodesGetsEachMessageOncePerMemberConnection() throws Exception {
        Node a = node("a");
        Node b = node("b");
        Node c = node("c");
        List<TestClient> members = List.of(login(a, "a1", "room"), login(a, "a2", "room"), login(b, "b1", "room"),
                login(c, "c1", "room", "other"));
        List<TestClient> others = List.of(login(a, "a3"), login(b, "b2", "other"), login(c, "c2"));
        awaitPresence(Scope.GROUP, "room", "a", "b", "c");

        SendResult r = b.cluster.sendToGroup("room", frame("m1"));
        assertThat(r.accepted()).as("b's own member").isEqualTo(1);
        assertThat(r.forwarded()).as("nodes a and c").isEqualTo(2);
        b.cluster.sendToGroup("room", "k", frame("m2"));
        for (TestClient m : members) {
            assertThat(next(m)).isEqualTo("m1");
            assertThat(next(m)).as("no second copy of m1").isEqualTo("m2");
            assertNothingMore(m);
        }
        for (TestClient o : others) {
            assertNothingMore(o);
        }

        SendResult all = c.cluster.broadcast(frame("everyone"));
        assertThat(all.accepted()).isEqualTo(2);
        assertThat(all.forwarded()).as("a, b and the probe").isEqualTo(3);
        for (TestClient t : concat(members, others)) {
            assertThat(next(t)).isEqualTo("everyone");
            assertNothingMore(t);
        }
        await("deliveries counted").until(() -> a.cluster.stats().delivered() == 2 + 2 + 3 && c.cluster.stats().delivered() == 2);
        for (Node n : List.of(a, b, c)) {
            assertThat(n.cluster.stats().lost()).isZero();
        }
    }

    private static <T> List<T> concat(List<T> x, List<T> y) {
        List<T> all = new ArrayList<>(x);
        all.addAll(y);
        return all;
    }

    @Test
    void withRedisDownLocalSendsWorkRemoteSendsFailFastAndAfterRestartPresenceAndDeliveryComeBack() throws Exception {
        Node a = node("a");
        Node b = node("b");
        TestClient alice = login(a, "alice");
        TestClient bob = login(b, "bob");
        awaitPresence(Scope.USER, "alice", "a");

        redis.stop();
        await("both nodes see Redis gone").until(() -> !a.cluster.isConnected() && !b.cluster.isConnected());

        long start = System.nanoTime();
        ClusterUnavailableException local = catchThrowableOfType(ClusterUnavailableException.class,
                () -> a.cluster.sendToUser("alice", frame("local")));
        ClusterUnavailableException remote = catchThrowableOfType(ClusterUnavailableException.class,
                () -> b.cluster.sendToUser("alice", frame("lost")));
        long tookMillis = (System.nanoTime() - start) / 1_000_000;
        assertThat(tookMillis).as("two sends while Redis is down fail at once, without waiting for it").isLessThan(900); // below one connect or command timeout (1 s)
        assertThat(local.localResult().accepted()).as("alice on a got it anyway").isEqualTo(1);
        assertThat(local).hasMessageContaining("not connected");
        assertThat(remote.localResult()).isEqualTo(SendResult.NONE);
        assertThat(next(alice)).isEqualTo("local");
        assertThat(catchThrowableOfType(ClusterUnavailableException.class, () -> b.cluster.sendToUser("bob", 1, frame("b-local")))
                .localResult().accepted()).isEqualTo(1);
        assertThat(next(bob)).isEqualTo("b-local");
        assertThat(a.cluster.stats().unavailable()).isEqualTo(1);
        assertThat(b.cluster.stats().unavailable()).isEqualTo(2);

        redis.start(); // same port, empty: presence must be announced again
        await("both nodes back").until(() -> a.cluster.isConnected() && b.cluster.isConnected());
        awaitPresence(Scope.USER, "alice", "a");
        awaitPresence(Scope.USER, "bob", "b");
        assertThat(b.cluster.sendToUser("alice", frame("back")).forwarded()).isEqualTo(1);
        assertThat(next(alice)).isEqualTo("back");
        assertThat(a.cluster.sendToUser("bob", frame("back too")).forwarded()).isEqualTo(1);
        assertThat(next(bob)).isEqualTo("back too");
        assertNothingMore(alice);
        assertThat(a.cluster.stats().reconnects()).isEqualTo(1);
        assertThat(b.cluster.stats().reconnects()).isEqualTo(1);
    }

    @Test
    void aNodeThatDiesWithoutCleanupDisappearsFromPresenceWithinTheTtl() throws Exception {
        Node a = node("a");
        ClusterConfig cConfig = Node.config("c", redis).build();
        RedisBus cBus = RedisBus.create(cConfig);
        Node c = Node.start(cConfig, Echo.loopback().build(), cBus);
        closeables.add(c);
        await("c connected").until(c.cluster::isConnected);
        login(c, "carol", "room");
        awaitPresence(Scope.USER, "carol", "c");
        awaitPresence(Scope.GROUP, "room", "c");

        cBus.close(); // c's Redis connections vanish: no withdraw, no more refreshes
        long died = System.nanoTime();
        assertThat(probe.nodes(Scope.USER, "carol")).as("still announced right after").containsExactly("c");
        assertThat(a.cluster.sendToUser("carol", frame("into the void")).forwarded()).isZero();
        assertThat(a.cluster.stats().nodeGone()).as("published to a channel nobody listens to").isEqualTo(1);

        await("carol's entry to expire").until(() -> probe.nodes(Scope.USER, "carol").isEmpty() && probe.nodes(Scope.GROUP, "room").isEmpty());
        long goneAfterMillis = (System.nanoTime() - died) / 1_000_000;
        assertThat(goneAfterMillis).as("gone within the TTL (1500ms) plus a margin").isLessThan(1500 + 2000);
        long published = a.cluster.stats().published();
        assertThat(a.cluster.sendToUser("carol", frame("x"))).isEqualTo(SendResult.NONE);
        assertThat(a.cluster.stats().published()).as("nothing published for a user nowhere").isEqualTo(published);
    }

    /**
     * Two running nodes given one id (an operator's mistake) used to lose each other's broadcasts
     * and sends unseen: each took the other's for its own. Each now finds the other's claim of the
     * id at its next refresh, counts it and logs it at ERROR.
     */
    @Test
    void twoRunningNodesGivenOneIdEachReportTheOther() throws Exception {
        Node first = node("twin");
        Node second = node("twin");
        await("both report the other").until(() -> first.cluster.stats().duplicateNode() >= 1 && second.cluster.stats().duplicateNode() >= 1);
    }

    /** A node that dies and is started again at once with its id takes its former claim over, unreported. */
    @Test
    void aNodeRestartedAtOnceWithItsIdTakesItsClaimOverUnreported() throws Exception {
        ClusterConfig config = Node.config("phoenix", redis).build();
        RedisBus bus = RedisBus.create(config);
        Node before = Node.start(config, Echo.loopback().build(), bus);
        closeables.add(before);
        try (Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            String died = awaitClaimRenewed(raw, "phoenix", null);
            bus.close(); // its Redis connections vanish, as a crash's: the claim stays for its TTL (1500ms)
            Node after = node("phoenix");
            String now = awaitClaimRenewed(raw, "phoenix", died);
            assertThat(now).as("a new instance's token").isNotEqualTo(died);
            assertThat(raw.pttl("test:node:phoenix")).as("the former claim's TTL not waited out").isPositive();
            assertThat(after.cluster.stats().duplicateNode()).as("not reported").isZero();
        }
    }

    /** Nodes of distinct ids each hold their own claim, and report nothing. */
    @Test
    void nodesOfDistinctIdsEachHoldTheirOwnClaimAndReportNothing() throws Exception {
        Node a = node("a");
        Node b = node("b");
        try (Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            String aToken = awaitClaimRenewed(raw, "a", null);
            String bToken = awaitClaimRenewed(raw, "b", null);
            assertThat(aToken).isNotEqualTo(bToken);
            assertThat(a.cluster.stats().duplicateNode()).isZero();
            assertThat(b.cluster.stats().duplicateNode()).isZero();
        }
    }

    /**
     * Waits for node {@code id}'s claim to hold another token than {@code not}, then to be made
     * again by a later refresh (the test takes its TTL away, and the next claim sets one): the
     * claim before it, and what its node counted of it, are done then. Returns the token.
     */
    private static String awaitClaimRenewed(Jedis raw, String id, @org.jspecify.annotations.Nullable String not) {
        String key = "test:node:" + id;
        await("node " + id + " claims its id").until(() -> {
            String t = raw.get(key);
            return t != null && !t.equals(not);
        });
        raw.persist(key);
        await("node " + id + " claims its id again").until(() -> raw.pttl(key) > 0);
        return raw.get(key);
    }

    @Test
    void garbageOnTheBusIsDroppedCountedAndHarmless() throws Exception {
        Node a = node("a");
        Node b = node("b");
        TestClient alice = login(a, "alice");
        awaitPresence(Scope.USER, "alice", "a");
        byte[] valid = new Envelope(Envelope.Kind.USER, "b", "alice", Envelope.KeyType.NONE, 0, null, frame("fine")).encode();
        byte[] tooLarge = new Envelope(Envelope.Kind.USER, "b", "alice", Envelope.KeyType.NONE, 0, null,
                new byte[ClusterConfig.DEFAULT_MAX_MESSAGE_BYTES + 1]).encode();
        try (Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            byte[] channel = "test:node:a".getBytes(StandardCharsets.UTF_8);
            raw.publish(channel, "not an envelope".getBytes(StandardCharsets.UTF_8));
            raw.publish(channel, java.util.Arrays.copyOf(valid, valid.length - 1));
            raw.publish(channel, tooLarge);
            raw.publish(channel, valid);
        }
        assertThat(next(alice)).as("the valid one, after three bad ones").isEqualTo("fine");
        await("three counted").until(() -> a.cluster.stats().malformed() == 3);
        assertThat(b.cluster.sendToUser("alice", frame("still fine")).forwarded()).isEqualTo(1);
        assertThat(next(alice)).isEqualTo("still fine");
    }

    @Test
    void aPayloadOverTheLimitOrAnOversizedNameIsRefusedBeforeAnythingIsSent() throws Exception {
        Node a = node("a");
        TestClient alice = login(a, "alice");
        assertThatThrownBy(() -> a.cluster.sendToUser("alice", new byte[ClusterConfig.DEFAULT_MAX_MESSAGE_BYTES + 1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxMessageBytes");
        assertThatThrownBy(() -> a.cluster.sendToGroup("x".repeat(70_000), frame("m")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("group: 70000 UTF-8 bytes");
        assertNothingMore(alice);
        assertThat(a.cluster.stats().published()).isZero();
    }

    @Test
    void namesThatLeaveAreWithdrawnAndAClosedNodeWithdrawsEverythingBeforeCloseReturns() throws Exception {
        Node a = node("a");
        Node b = node("b");
        TestClient alice = login(a, "alice", "room");
        login(b, "bob", "room");
        awaitPresence(Scope.USER, "alice", "a");
        awaitPresence(Scope.GROUP, "room", "a", "b");

        alice.close(); // the registry drops her bindings; the next refresh withdraws them
        awaitPresence(Scope.USER, "alice");
        awaitPresence(Scope.GROUP, "room", "b");

        b.cluster.close();
        assertThat(probe.nodes(Scope.USER, "bob")).as("withdrawn by close(), not left to the TTL").isEmpty();
        assertThat(probe.nodes(Scope.GROUP, "room")).isEmpty();
        assertThat(b.cluster.isConnected()).isFalse();
        ClusterUnavailableException e = catchThrowableOfType(ClusterUnavailableException.class, () -> b.cluster.sendToUser("bob", frame("x")));
        assertThat(e).hasMessageContaining("closed");
        assertThat(e.localResult().accepted()).as("bob is still connected to b's server").isEqualTo(1);
    }

    /** A client that only listens to the bus, as an operator's {@code redis-cli SUBSCRIBE} or {@code PSUBSCRIBE} does. */
    private final class Listener implements AutoCloseable {
        private final Jedis jedis = new Jedis(new HostAndPort("127.0.0.1", redis.port()));
        private final CountDownLatch subscribed = new CountDownLatch(1);
        private final boolean pattern;
        private final BinaryJedisPubSub pubsub = new BinaryJedisPubSub() {
            @Override
            public void onSubscribe(byte[] channel, int subscribedChannels) {
                subscribed.countDown();
            }

            @Override
            public void onPSubscribe(byte[] pattern, int subscribedChannels) {
                subscribed.countDown();
            }
        };
        private final Thread thread;

        Listener(boolean pattern, String channel) throws InterruptedException {
            this.pattern = pattern;
            byte[] name = channel.getBytes(StandardCharsets.UTF_8);
            thread = Thread.ofVirtual().start(() -> {
                if (pattern) {
                    jedis.psubscribe(pubsub, name);
                } else {
                    jedis.subscribe(pubsub, name);
                }
            });
            assertThat(subscribed.await(10, TimeUnit.SECONDS)).as("subscribed to " + channel).isTrue();
        }

        @Override
        public void close() throws InterruptedException {
            if (pattern) {
                pubsub.punsubscribe();
            } else {
                pubsub.unsubscribe();
            }
            thread.join(10_000);
            jedis.close();
        }
    }

    @Test
    void clientsThatListenToTheBusByAPatternAreNotCountedAsNodesThatReceivedASend() throws Exception {
        Node a = node("a");
        node("b");
        ClusterConfig cConfig = Node.config("c", redis).build();
        RedisBus cBus = RedisBus.create(cConfig);
        Node c = Node.start(cConfig, Echo.loopback().build(), cBus);
        closeables.add(c);
        await("c connected").until(c.cluster::isConnected);
        login(c, "carol");
        awaitPresence(Scope.USER, "carol", "c");
        try (Listener all = new Listener(false, "test:all"); Listener everything = new Listener(true, "test:*")) {
            assertThat(a.cluster.broadcast(frame("everyone")).forwarded())
                    .as("b, c, the probe and the listener by name, which Redis cannot tell from a node; not the listener by pattern")
                    .isEqualTo(4);

            cBus.close(); // c is gone, its presence not yet expired; the pattern listener still hears its channel
            assertThat(a.cluster.sendToUser("carol", frame("into the void")).forwarded()).as("no node got it").isZero();
            assertThat(a.cluster.stats().nodeGone()).as("published to a node nobody listens for").isEqualTo(1);
        }
    }
}
