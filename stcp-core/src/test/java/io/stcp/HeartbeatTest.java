package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
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

    private static byte[] readFrame(DataInputStream in) throws java.io.IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }
}
