package io.stcp.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.ConnectionRegistry;
import io.stcp.Sender;
import io.stcp.TcpServer;
import io.stcp.cluster.internal.Envelope;
import io.stcp.cluster.internal.Envelope.KeyType;
import io.stcp.cluster.internal.Envelope.Kind;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * The receiving side on its own, with a {@link ClusterBus} in memory that hands messages to the
 * node as the bus's thread would: the bounded inbound queue, order, messages for nobody, the
 * node's own broadcasts; and, on a real Redis, a message longer than any envelope. A recipient whose {@code put} blocks until the test opens a gate holds the
 * delivery thread, so the queue fills deterministically.
 */
@ExtendWith(ClusterLeakCheck.class)
class ReceivingTest {

    /** A sender that records what it is given, and blocks in put until the gate opens. */
    private static final class GatedSender implements Sender {
        final Connection connection;
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch gate = new CountDownLatch(1);
        final List<String> puts = new CopyOnWriteArrayList<>();
        volatile boolean closed;

        GatedSender(Connection connection) {
            this.connection = connection;
        }

        @Override
        public Connection connection() {
            return connection;
        }

        @Override
        public void put(byte[] bytes) {
            entered.countDown();
            try {
                gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            puts.add(new String(bytes, StandardCharsets.UTF_8));
        }

        @Override
        public int close() {
            closed = true;
            return 0;
        }

        @Override
        public boolean isClosed() {
            return closed;
        }
    }

    private static byte[] toUser(String origin, String user, String text) {
        return new Envelope(Kind.USER, origin, user, KeyType.NONE, 0, null, text.getBytes(StandardCharsets.UTF_8)).encode();
    }

    /** Node "a" with one connection, bound to user alice, whose sender is gated; the bus in memory. */
    private static final class AliceNode implements AutoCloseable {
        final ConnectionRegistry registry = ConnectionRegistry.create();
        final GatedSender[] alice = new GatedSender[1];
        final TcpServer server;
        final ClusterFanout cluster;
        final TestClient client;
        final ClusterBus.Listener fromBus;

        AliceNode(ClusterConfig config) throws Exception {
            this(config, new InMemoryBus());
        }

        private AliceNode(ClusterConfig config, InMemoryBus bus) throws Exception {
            this(config, bus, bus);
        }

        /** On {@code bus}, which the node closes; {@link #fromBus} is null unless it is an {@link InMemoryBus}. */
        AliceNode(ClusterConfig config, ClusterBus bus, Presence presence) throws Exception {
            server = TcpServer.create(Echo.loopback().build(), Echo.READER, conn -> alice[0] = new GatedSender(conn))
                    .registry(registry).onConnectionStart(s -> registry.bindUser(s, "alice")).start();
            cluster = ClusterFanout.start(config, registry, bus, presence);
            client = TestClient.connect(server.address());
            Awaitility.await("alice registered").atMost(Duration.ofSeconds(10)).until(() -> !registry.user("alice").isEmpty());
            fromBus = bus instanceof InMemoryBus m ? m.listener : null;
        }

        GatedSender alice() {
            return alice[0];
        }

        @Override
        public void close() throws Exception {
            alice[0].gate.countDown();
            cluster.close();
            client.close();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void aFullInboundQueueDropsAndCountsWhatArrivesAndTheRestIsDeliveredInOrder() throws Exception {
        try (AliceNode a = new AliceNode(ClusterConfig.builder("a").inboundQueue(2).build())) {
            ClusterFanout cluster = a.cluster;
            ClusterBus.Listener fromBus = a.fromBus;
            fromBus.onMessage(toUser("b", "alice", "m0"));
            assertThat(a.alice().entered.await(10, TimeUnit.SECONDS)).as("the delivery thread is in alice's put").isTrue();
            fromBus.onMessage(toUser("b", "alice", "m1"));
            fromBus.onMessage(toUser("c", "alice", "m2"));
            fromBus.onMessage(toUser("b", "alice", "m3")); // the queue holds two: dropped
            assertThat(cluster.stats().overflow()).isEqualTo(1);

            a.alice().gate.countDown();
            Awaitility.await("m0 to m2 delivered").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().delivered() == 3);
            fromBus.onMessage(toUser("b", "nobody", "m4"));
            Awaitility.await("m4 handled").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().unroutable() == 1);
            fromBus.onMessage(new Envelope(Kind.ALL, "a", "", KeyType.NONE, 0, null, new byte[] {1}).encode()); // own broadcast
            fromBus.onMessage(toUser("b", "alice", "m5"));
            Awaitility.await("m5 delivered").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().delivered() == 4);

            assertThat(a.alice().puts).as("in order, without the dropped m3 and this node's own broadcast").containsExactly("m0", "m1", "m2", "m5");
            ClusterStats stats = cluster.stats();
            assertThat(stats.received()).as("m0, m1, m2, m4 and m5; not this node's own broadcast, not the dropped one").isEqualTo(5);
            assertThat(stats.delivered()).isEqualTo(4);
            assertThat(stats.overflow()).isEqualTo(1);
            assertThat(stats.unroutable()).isEqualTo(1);
            assertThat(stats.lost()).isEqualTo(2);
        }
    }

    /**
     * The messages still in the inbound queue when the fanout closes are dropped undelivered, and
     * counted as lost ({@code discarded}): they used to be only logged with {@code cluster.stop}, so
     * the losses an operator saw in the stats left them out.
     */
    @Test
    void theMessagesStillQueuedAtCloseAreCountedAsDiscardedAndLost() throws Exception {
        try (AliceNode a = new AliceNode(ClusterConfig.builder("a").build())) {
            ClusterFanout cluster = a.cluster;
            ClusterBus.Listener fromBus = a.fromBus;
            fromBus.onMessage(toUser("b", "alice", "m0"));
            assertThat(a.alice().entered.await(10, TimeUnit.SECONDS)).as("the delivery thread is in alice's put").isTrue();
            fromBus.onMessage(toUser("b", "alice", "m1"));
            fromBus.onMessage(toUser("c", "alice", "m2"));
            assertThat(cluster.stats().lost()).isZero();

            cluster.close(); // interrupts alice's put: m0 is handed over, m1 and m2 are still queued
            ClusterStats stats = cluster.stats();
            assertThat(stats.lost()).as("m1 and m2, dropped by the close").isEqualTo(2);
            assertThat(stats.discarded()).isEqualTo(2);
            assertThat(a.alice().puts).containsExactly("m0");
        }
    }

    @Test
    void theInboundByteLimitDropsWhatWouldPassIt() throws Exception {
        // The smallest limit allowed: one message of the largest size, 100,000 + 131,148 bytes.
        ClusterConfig config = ClusterConfig.builder("a").maxMessageBytes(100_000).inboundMaxBytes(231_148).build();
        try (AliceNode a = new AliceNode(config)) {
            ClusterFanout cluster = a.cluster;
            ClusterBus.Listener fromBus = a.fromBus;
            fromBus.onMessage(toUser("b", "alice", "first"));
            assertThat(a.alice().entered.await(10, TimeUnit.SECONDS)).isTrue();
            String big = "x".repeat(100_000);
            assertThat(toUser("b", "alice", big)).hasSize(100_018); // 18 bytes of envelope
            fromBus.onMessage(toUser("b", "alice", big));
            fromBus.onMessage(toUser("b", "alice", big)); // 200,036 bytes queued: within 231,148
            assertThat(cluster.stats().overflow()).isZero();
            fromBus.onMessage(toUser("b", "alice", big)); // 300,054: over
            assertThat(cluster.stats().overflow()).isEqualTo(1);
            a.alice().gate.countDown();
            Awaitility.await("the rest delivered").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().delivered() == 3);
            fromBus.onMessage(toUser("b", "alice", big)); // the bytes were given back as they were delivered
            Awaitility.await("and one more").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().delivered() == 4);
            assertThat(cluster.stats().overflow()).isEqualTo(1);
        }
    }

    /** An error that only the test throws: out of memory while delivering, or a bug. */
    private static final class DeliveryBroke extends Error {
        DeliveryBroke() {
            super("delivery broke", null, false, false);
        }
    }

    /**
     * Delivering one message fails with an Error (out of memory decoding or delivering a payload of
     * maxMessageBytes, a bug): it costs that message, and the next ones are delivered; the delivery
     * thread used to end, and every message after it went to the inbound queue and was dropped.
     */
    @Test
    void anErrorDeliveringOneMessageDoesNotStopTheDeliveryOfTheNext() throws Exception {
        ConnectionRegistry real = ConnectionRegistry.create();
        ConnectionRegistry breaking = (ConnectionRegistry) java.lang.reflect.Proxy.newProxyInstance(
                ConnectionRegistry.class.getClassLoader(), new Class<?>[] {ConnectionRegistry.class}, (proxy, method, args) -> {
                    if (method.getName().equals("sendToUser") && "boom".equals(args[0])) {
                        throw new DeliveryBroke();
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        InMemoryBus bus = new InMemoryBus();
        try (ClusterFanout cluster = ClusterFanout.start(ClusterConfig.builder("a").build(), breaking, bus, bus)) {
            bus.listener.onMessage(toUser("b", "boom", "m0"));
            bus.listener.onMessage(toUser("b", "nobody", "m1"));
            Awaitility.await("m1 handled after m0 broke").atMost(Duration.ofSeconds(10))
                    .until(() -> cluster.stats().unroutable() == 1);
            assertThat(cluster.stats().received()).isEqualTo(2);
        }
    }

    /**
     * An Error on the subscriber's thread — out of memory as Jedis reads a message of up to Redis's
     * pub/sub limit (32 MiB), or in the listener — loses that subscription like any failure, and the
     * bus subscribes again. It used to end the thread with the bus still saying connected: the node
     * deaf for good, its sends still going out.
     */
    @Test
    void anErrorOnTheSubscribersThreadIsALostSubscriptionMadeAgain(@TempDir Path dir) throws Exception {
        try (RedisServer redis = RedisServer.start(dir);
                Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).build());
            java.util.concurrent.atomic.AtomicInteger connects = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean broke = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.BlockingQueue<String> received = new java.util.concurrent.LinkedBlockingQueue<>();
            try (bus) {
                bus.subscribe("a", new ClusterBus.Listener() {
                    @Override
                    public void onMessage(byte[] message) {
                        if (broke.compareAndSet(false, true)) {
                            throw new DeliveryBroke();
                        }
                        received.add(new String(message, StandardCharsets.UTF_8));
                    }

                    @Override
                    public void onConnected() {
                        connects.incrementAndGet();
                    }

                    @Override
                    public void onDisconnected(String reason) {
                    }
                });
                Awaitility.await("subscribed").atMost(Duration.ofSeconds(20)).until(() -> connects.get() == 1);
                byte[] channel = "test:node:a".getBytes(StandardCharsets.UTF_8);
                raw.publish(channel, "m0".getBytes(StandardCharsets.UTF_8)); // breaks the subscriber's thread
                Awaitility.await("subscribed again").atMost(Duration.ofSeconds(20)).until(() -> connects.get() == 2);
                raw.publish(channel, "m1".getBytes(StandardCharsets.UTF_8));
                assertThat(received.poll(10, TimeUnit.SECONDS)).isEqualTo("m1");
                assertThat(bus.isConnected()).isTrue();
            }
        }
    }

    /**
     * Redis passes a subscriber any message up to its pub/sub output limit (32 MiB by default),
     * far longer than any envelope: one such, published on the node's channel by a client that is
     * no node, is counted as malformed when it arrives and takes no room in the inbound queue, even
     * when it is nearly the whole byte limit and the delivery thread is held up.
     */
    @Test
    void aMessageLongerThanAnyEnvelopeIsMalformedOnArrivalAndTakesNoInboundRoom(@TempDir Path dir) throws Exception {
        int maxMessageBytes = 64 << 10;
        long inboundMaxBytes = 1 << 20;
        try (RedisServer redis = RedisServer.start(dir);
                Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            ClusterConfig config = Node.config("a", redis).maxMessageBytes(maxMessageBytes).inboundMaxBytes(inboundMaxBytes).build();
            RedisBus bus = RedisBus.create(config);
            try (AliceNode a = new AliceNode(config, bus, bus)) {
                ClusterFanout cluster = a.cluster;
                Awaitility.await("a connected to Redis").atMost(Duration.ofSeconds(20)).until(cluster::isConnected);
                byte[] channel = "test:node:a".getBytes(StandardCharsets.UTF_8);
                raw.publish(channel, toUser("b", "alice", "m0"));
                assertThat(a.alice().entered.await(10, TimeUnit.SECONDS)).as("the delivery thread is in alice's put").isTrue();

                byte[] m1 = toUser("b", "alice", "m1");
                byte[] junk = new byte[(int) inboundMaxBytes - m1.length + 1]; // with m1, one byte over the limit
                assertThat((long) junk.length).as("longer than any envelope").isGreaterThan(Envelope.maxLength(maxMessageBytes));
                raw.publish(channel, junk);
                raw.publish(channel, m1);
                Awaitility.await("the junk counted on arrival").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().malformed() == 1);

                a.alice().gate.countDown();
                Awaitility.await("m1 delivered or dropped").atMost(Duration.ofSeconds(10))
                        .until(() -> cluster.stats().delivered() + cluster.stats().overflow() == 2);
                assertThat(cluster.stats().overflow()).as("m1 found room: the junk took none").isZero();
                assertThat(a.alice().puts).containsExactly("m0", "m1");
                assertThat(cluster.stats().malformed()).isEqualTo(1);
            }
        }
    }

    /**
     * A message longer than any envelope, published raw on the node's channel, is skipped as it is
     * read: the bus never holds it (Jedis allocated it whole at its announced length, up to Redis's
     * pub/sub limit or whatever an operator set there), tells its listener its length instead, and
     * keeps the subscription: the message after it arrives on the same one. The subscribing thread's
     * allocations while it passes stay far below its length.
     */
    @Test
    void aMessageLongerThanAnyEnvelopeIsSkippedUnreadAndTheSubscriptionStays(@TempDir Path dir) throws Exception {
        int maxMessageBytes = 64 << 10;
        long limit = Envelope.maxLength(maxMessageBytes);
        byte[] junk = new byte[8 << 20]; // under Redis's default pub/sub limit (32 MiB): it reaches the subscriber
        try (RedisServer redis = RedisServer.start(dir);
                Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()))) {
            RedisBus bus = RedisBus.create(Node.config("a", redis).maxMessageBytes(maxMessageBytes).build());
            QueueingListener listener = new QueueingListener();
            java.util.concurrent.BlockingQueue<byte[]> received = listener.received;
            java.util.concurrent.BlockingQueue<long[]> tooLong = listener.tooLong;
            java.util.concurrent.atomic.AtomicInteger connects = listener.connects;
            try (bus) {
                bus.subscribe("a", listener);
                Awaitility.await("subscribed").atMost(Duration.ofSeconds(20)).until(() -> connects.get() == 1);
                byte[] channel = "test:node:a".getBytes(StandardCharsets.UTF_8);
                raw.publish(channel, "m0".getBytes(StandardCharsets.UTF_8));
                assertThat(received.poll(10, TimeUnit.SECONDS)).asString(StandardCharsets.UTF_8).isEqualTo("m0");

                long allocatedBefore = allocatedBytes();
                raw.publish(channel, junk);
                raw.publish(channel, "m1".getBytes(StandardCharsets.UTF_8));
                assertThat(received.poll(10, TimeUnit.SECONDS)).as("the message after it, not the long one")
                        .asString(StandardCharsets.UTF_8).isEqualTo("m1");
                long allocated = allocatedBytes() - allocatedBefore;
                assertThat(tooLong.poll()).as("the listener told its length and the limit").containsExactly(junk.length, limit);
                assertThat(connects.get()).as("the same subscription").isEqualTo(1);
                assertThat(bus.isConnected()).isTrue();
                if (allocatedBefore >= 0 && allocated >= 0) {
                    assertThat(allocated).as("bytes allocated in this JVM while the %d-byte message passed", junk.length)
                            .isLessThan(junk.length / 2);
                }
            }
        }
    }

    /**
     * A long message that arrives over several heartbeat intervals — skipped (longer than any
     * envelope) or read whole (within the limit) — is a sign of life all along: its bytes keep
     * coming while Jedis hears nothing of it until its last one. The heartbeat (every command
     * timeout, here 200 ms) took the subscription for silent meanwhile, and dropped it and what
     * was in flight. Through a relay that trickles Redis's replies (4 KiB every 15 ms), each of the
     * two messages takes about half a second, two heartbeat intervals and more.
     */
    @Test
    void aLongMessageTricklingInOverSeveralHeartbeatsKeepsTheSubscription(@TempDir Path dir) throws Exception {
        int maxMessageBytes = 1;
        long limit = Envelope.maxLength(maxMessageBytes);
        byte[] skipped = new byte[(int) limit + (4 << 10)];
        byte[] whole = new byte[(int) limit - 1];
        java.util.Arrays.fill(whole, (byte) 'w');
        QueueingListener listener = new QueueingListener();
        java.util.concurrent.BlockingQueue<byte[]> received = listener.received;
        java.util.concurrent.BlockingQueue<long[]> tooLong = listener.tooLong;
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()));
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(Duration.ofMillis(200)).maxMessageBytes(maxMessageBytes).build())) {
            proxy.trickleRepliesOnNewConnections(4 << 10, Duration.ofMillis(15));
            bus.subscribe("a", listener);
            Awaitility.await("subscribed").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 1);
            byte[] channel = "test:node:a".getBytes(StandardCharsets.UTF_8);
            long start = System.nanoTime();
            raw.publish(channel, skipped);
            raw.publish(channel, whole);
            raw.publish(channel, "m1".getBytes(StandardCharsets.UTF_8));
            Awaitility.await("the three messages received, or the subscription lost").atMost(Duration.ofSeconds(20))
                    .until(() -> received.size() == 2 || listener.disconnects.get() > 0);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(listener.disconnects).as("subscriptions lost while the messages came").hasValue(0);
            assertThat(tookMs).as("how long they took to arrive (ms): several heartbeats").isGreaterThan(400L);
            assertThat(tooLong.poll()).as("the long one skipped").startsWith(skipped.length);
            assertThat(java.util.Arrays.equals(received.poll(), whole)).as("the one within the limit, whole").isTrue();
            assertThat(received.poll()).as("the message after them").asString(StandardCharsets.UTF_8).isEqualTo("m1");
            assertThat(listener.connects).as("the same subscription").hasValue(1);
            assertThat(bus.isConnected()).isTrue();
        }
    }

    /**
     * Bytes arriving are what keeps a subscription up, not a message under way: a link that goes
     * silent in the middle of a message being skipped (nothing Redis sends reaches the node from
     * the heartbeat's next PING on) is noticed as any silent link, and the subscription made again.
     */
    @Test
    void aLinkThatGoesSilentInTheMiddleOfASkippedMessageIsNoticed(@TempDir Path dir) throws Exception {
        int maxMessageBytes = 1;
        byte[] skipped = new byte[(int) Envelope.maxLength(maxMessageBytes) + (64 << 10)];
        QueueingListener listener = new QueueingListener();
        try (RedisServer redis = RedisServer.start(dir);
                ReplyStallingProxy proxy = new ReplyStallingProxy(redis.port());
                Jedis raw = new Jedis(new HostAndPort("127.0.0.1", redis.port()));
                RedisBus bus = RedisBus.create(Node.config("a", redis).redisAddress(proxy.address())
                        .commandTimeout(Duration.ofMillis(200)).maxMessageBytes(maxMessageBytes).build())) {
            proxy.trickleRepliesOnNewConnections(4 << 10, Duration.ofMillis(15));
            bus.subscribe("a", listener);
            Awaitility.await("subscribed").atMost(Duration.ofSeconds(20)).until(() -> listener.connects.get() == 1);
            raw.publish("test:node:a".getBytes(StandardCharsets.UTF_8), skipped);
            assertThat(listener.tooLong.poll(20, TimeUnit.SECONDS)).as("the skip begun").startsWith(skipped.length);
            proxy.stallRepliesFrom("PING"); // the heartbeat's next: the rest of the message, and the pong, never come
            Awaitility.await("the silent subscription dropped and made again").atMost(Duration.ofSeconds(20))
                    .until(() -> listener.disconnects.get() == 1 && listener.connects.get() == 2);
        }
    }

    /** A bus listener that counts as {@link CountingListener} does and queues the messages and the lengths of those skipped. */
    private static final class QueueingListener extends CountingListener {
        final java.util.concurrent.BlockingQueue<byte[]> received = new java.util.concurrent.LinkedBlockingQueue<>();
        /** Each message skipped: its length and the limit it passed. */
        final java.util.concurrent.BlockingQueue<long[]> tooLong = new java.util.concurrent.LinkedBlockingQueue<>();

        @Override
        public void onMessage(byte[] message) {
            received.add(message);
        }

        @Override
        public void onTooLong(long length, long max) {
            tooLong.add(new long[] {length, max});
        }
    }

    /**
     * Bytes allocated so far by this JVM's threads (virtual threads' on their carriers) but this one,
     * whose Jedis copies what it publishes; or -1 if not measured.
     */
    private static long allocatedBytes() throws ReflectiveOperationException {
        Object threads = java.lang.management.ManagementFactory.getThreadMXBean();
        Class<?> mx = Class.forName("com.sun.management.ThreadMXBean");
        long all = (long) mx.getMethod("getTotalThreadAllocatedBytes").invoke(threads);
        long mine = (long) mx.getMethod("getCurrentThreadAllocatedBytes").invoke(threads);
        return all < 0 || mine < 0 ? -1 : all - mine;
    }

    @Test
    void thisNodesOwnBroadcastsComingBackTakeNoRoomInTheInboundQueue() throws Exception {
        try (AliceNode a = new AliceNode(ClusterConfig.builder("a").inboundQueue(2).build())) {
            ClusterFanout cluster = a.cluster;
            ClusterBus.Listener fromBus = a.fromBus;
            fromBus.onMessage(toUser("b", "alice", "m0"));
            assertThat(a.alice().entered.await(10, TimeUnit.SECONDS)).as("the delivery thread is in alice's put").isTrue();

            // This node broadcast twice (its local part is done) and the bus hands both back, as Redis does.
            byte[] own = new Envelope(Kind.ALL, "a", "", KeyType.NONE, 0, null, new byte[] {1}).encode();
            fromBus.onMessage(own);
            fromBus.onMessage(own);
            fromBus.onMessage(toUser("b", "alice", "m1"));
            fromBus.onMessage(toUser("c", "alice", "m2"));
            assertThat(cluster.stats().overflow()).as("nothing lost: the queue of two holds m1 and m2").isZero();

            a.alice().gate.countDown();
            Awaitility.await("m0 to m2 delivered").atMost(Duration.ofSeconds(10)).until(() -> cluster.stats().delivered() == 3);
            assertThat(a.alice().puts).containsExactly("m0", "m1", "m2");
            assertThat(cluster.stats().lost()).isZero();
        }
    }
}
