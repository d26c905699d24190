package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What a heartbeat does on a connection whose writes are stalled, not idle. */
class HeartbeatTest {
    private static final byte[] PING = Echo.frame(new byte[] {42});

    /**
     * A peer that stops reading stalls the write in progress, so nothing is written for longer
     * than the interval; the reply queued behind that write must still reach the peer once it
     * reads again — a ping must not push it out of a DROP_OLDEST queue (nor count as a slow
     * consumer's put under CLOSE_CONNECTION).
     */
    @Test
    void aPingNeverPushesOutAMessageQueuedBehindAStalledWrite() throws Exception {
        AtomicReference<QueueSender> senderOf = new AtomicReference<>();
        SenderFactory factory = conn -> QueueSender.options().capacity(2).maxBytes(64 << 20)
                .overflow(OverflowPolicy.DROP_OLDEST).writeInline(false).batchReplies(false).build(conn);
        byte[] big = Echo.frame(new byte[16 << 20]); // far more than the two sockets' buffers hold
        byte[] reply = Echo.frame(new byte[] {7});
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ZERO).build(),
                        (sender, conn) -> conn.readInt(), factory)
                .onConnectionStart(sender -> {
                    sender.put(big);
                    senderOf.set((QueueSender) sender); // once big is queued: the await below sees it taken, not not yet put
                })
                .start();
        try (Socket client = new Socket()) {
            client.setReceiveBufferSize(4096);
            client.setSoTimeout(10_000);
            client.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()));
            await().atMost(Duration.ofSeconds(10)).until(() -> senderOf.get() != null
                    && senderOf.get().stats().pendingMessages() == 0); // the send thread holds the big write
            QueueSender sender = senderOf.get();
            sender.put(reply); // waits behind the stalled write
            Heartbeat.every(Duration.ofMillis(50), PING).onEvent(sender);
            // Many intervals with nothing written: a heartbeat that puts pings would drop a message.
            await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5))
                    .untilAsserted(() -> assertThat(sender.stats().dropped()).as("messages dropped").isZero());

            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(readFrame(in)).hasSize(16 << 20);
            assertThat(readFrame(in)).as("no ping queued behind the stalled write").containsExactly(7);
            assertThat(readFrame(in)).as("pings go on once writes flow").containsExactly(42);
            assertThat(sender.stats().dropped()).isZero();
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * Messages put by others between the heartbeat's look at the queue and its put: the ping must
     * not take their place, whatever the policy ({@link OverflowPolicy#DROP_OLDEST} would drop
     * the oldest, {@link OverflowPolicy#CLOSE_CONNECTION} would close the connection). The seam
     * fills the queue just before the first ping is put; the second ping's start shows the first
     * is done.
     */
    @ParameterizedTest
    @EnumSource(value = OverflowPolicy.class, names = {"DROP_OLDEST", "CLOSE_CONNECTION", "FAIL"})
    void aPingNeverTakesThePlaceOfMessagesPutJustBeforeIt(OverflowPolicy policy) throws Exception {
        AtomicReference<QueueSender> senderOf = new AtomicReference<>();
        SenderFactory factory = conn -> QueueSender.options().capacity(2)
                .overflow(policy).writeInline(false).batchReplies(false).build(conn);
        byte[] first = Echo.frame(new byte[] {1});
        byte[] second = Echo.frame(new byte[] {2});
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> conn.readInt(), factory)
                .onConnectionStart(sender -> senderOf.set((QueueSender) sender))
                .start();
        try (Socket client = new Socket()) {
            client.setSoTimeout(10_000);
            client.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()));
            await().atMost(Duration.ofSeconds(10)).until(() -> senderOf.get() != null);
            QueueSender sender = senderOf.get();
            AtomicInteger pings = new AtomicInteger();
            Heartbeat.every(Duration.ofMillis(50), PING, () -> {
                if (pings.incrementAndGet() == 1) { // the queue was empty and idle a moment ago
                    sender.holdWrites();
                    sender.put(first);
                    sender.put(second);
                }
            }).onEvent(sender);

            await().atMost(Duration.ofSeconds(10)).until(() -> pings.get() >= 2
                    || sender.stats().dropped() > 0 || sender.stats().rejected() > 0 || sender.isClosed());
            assertThat(sender.stats().dropped()).as("messages dropped for a ping").isZero();
            assertThat(sender.isClosed()).as("closed for a ping").isFalse();
            assertThat(sender.stats().rejected()).as("puts rejected").isZero();
            assertThat(sender.stats().pendingMessages()).isEqualTo(2);

            sender.resumeWrites();
            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(readFrame(in)).containsExactly(1);
            assertThat(readFrame(in)).containsExactly(2);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A ping longer than the sender's byte limit was refused at every interval and skipped, so no
     * heartbeat ever went out and nothing said so. Now the start hook fails with the sizes (the
     * server logs it once, rate-limited, as a failed hook) and the connection is served without one.
     */
    @Test
    void aPingTheSenderCanNeverQueueFailsItsStartHookAndTheConnectionIsServedWithoutIt() throws Exception {
        byte[] ping = Echo.frame(new byte[5]); // 9 bytes
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER,
                        conn -> QueueSender.options().maxBytes(8).build(conn))
                .onConnectionStart(Heartbeat.every(Duration.ofMillis(50), ping))
                .start();
        try (LogCapture log = LogCapture.of("io.stcp.connection");
             TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {7})).as("served all the same").containsExactly(7);
            // the start hooks ran, and logged, before the reader that answered
            assertThat(log.events("conn.hook.failed")).hasSize(1);
            Throwable cause = ((ch.qos.logback.classic.spi.ThrowableProxy) log.events("conn.hook.failed").get(0)
                    .getThrowableProxy()).getThrowable();
            assertThat(cause).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ping: 9 bytes, above the sender's maxBytes of 8 (expected: a ping the sender can queue;"
                            + " this one would never be sent)");
        } finally {
            Echo.stop(server);
        }
        assertThatThrownBy(() -> Heartbeat.every(Duration.ofSeconds(1), new byte[0]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("ping: empty (expected: at least one byte");
    }

    /**
     * The sweeper looks every eighth of the interval but at most every millisecond, so an interval
     * under 8 ms ran later than the quarter of it promised: it is refused, by the heartbeat and by
     * the mechanism under it, naming the shortest; 8 ms is served.
     */
    @Test
    void anIntervalShorterThanTheSweeperServesOnTimeIsRefusedNamingTheShortest() throws Exception {
        assertThatThrownBy(() -> Heartbeat.every(Duration.ofMillis(7), PING)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("interval: 7ms (expected: >= 8ms, the shortest the server's sweeper runs on time");
        assertThat(Heartbeat.MIN_INTERVAL).isEqualTo(Duration.ofMillis(8));
        AtomicReference<Throwable> refused = new AtomicReference<>();
        java.util.concurrent.CountDownLatch pinged = new java.util.concurrent.CountDownLatch(1);
        Heartbeat shortest = Heartbeat.every(Heartbeat.MIN_INTERVAL, PING);
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(sender -> {
                    try {
                        sender.connection().onWriteIdle(Duration.ofNanos(7_999_999), () -> { });
                    } catch (IllegalArgumentException e) {
                        refused.set(e);
                    }
                    shortest.onEvent(sender);
                })
                .start();
        try (Socket s = new Socket()) {
            s.connect(server.address(), 10_000);
            s.setSoTimeout(10_000);
            assertThat(readFrame(new DataInputStream(s.getInputStream()))).as("a ping, 8 ms after nothing written")
                    .containsExactly(42);
        } finally {
            Echo.stop(server);
        }
        assertThat(refused.get()).isNotNull().hasMessageStartingWith("interval: 7.999999ms (expected: >= 8ms");
    }

    private static byte[] readFrame(DataInputStream in) throws java.io.IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }
}
