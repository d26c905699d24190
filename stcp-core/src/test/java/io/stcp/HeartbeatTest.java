package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

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
                    senderOf.set((QueueSender) sender);
                    sender.put(big);
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
            byte[] next = readFrame(in);
            while (next.length == 1 && next[0] == 42) { // a ping that came before the reply is fine
                next = readFrame(in);
            }
            assertThat(next).containsExactly(7);
            assertThat(readFrame(in)).as("pings go on once writes flow").containsExactly(42);
            assertThat(sender.stats().dropped()).isZero();
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
