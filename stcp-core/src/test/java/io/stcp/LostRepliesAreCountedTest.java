package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Every accepted message is either written or counted: a peer that resets during a graceful close loses some. */
class LostRepliesAreCountedTest {

    @Test
    void aPeerResetDuringCloseAfterFlushIsCountedNotReportedAsAFullDrain() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 8 << 10);
            client.connect(listener.getLocalAddress());
            SocketChannel accepted = listener.accept();
            accepted.setOption(StandardSocketOptions.SO_SNDBUF, 8 << 10);
            Connection conn = Connection.of(accepted);
            QueueSender sender = QueueSender.options().capacity(100).build(conn);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            int messages = 3;
            for (int i = 0; i < messages; i++) {
                sender.put(new byte[64 << 10]); // one batch of 192 KiB: far more than both socket buffers
            }
            sender.resumeWrites(); // the queue is written from now on
            CompletableFuture<Integer> discarded = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> discarded.complete(sender.closeAfterFlush(Duration.ofSeconds(30))));
            new DataInputStream(Channels.newInputStream(client)).readFully(new byte[4 << 10]);
            client.setOption(StandardSocketOptions.SO_LINGER, 0);
            client.close(); // reset: what the server has not written yet is lost
            int lost = discarded.get(30, TimeUnit.SECONDS);
            assertThat(lost).as("messages not written").isGreaterThan(0);
            conn.close();
        }
    }

    /** A server whose connections queue {@code replies} replies for each request and write none of them. */
    private static TcpServer holdingReplies(int replies, CountDownLatch queued) throws Exception {
        return TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < replies; i++) {
                sender.put(new byte[] {(byte) i});
            }
            queued.countDown();
        }, c -> QueueSenderTesting.holdWrites(QueueSender.options().capacity(100).build(c))).start();
    }

    private static void assertExitLineCounts(LogCapture logs, TcpServer server, int replies) {
        Awaitility.await().until(() -> logs.events("conn.exit").size() == 1);
        ILoggingEvent exit = logs.events("conn.exit").get(0);
        assertThat(server.stats().discarded()).isEqualTo(replies);
        assertThat(LogCapture.fields(exit)).as("conn.exit").containsEntry("reason", CloseReason.SHUTDOWN)
                .containsEntry("discarded", replies);
    }

    @Test
    void theRepliesAServerCloseDiscardsAreOnTheirConnectionsExitLine() throws Exception {
        CountDownLatch queued = new CountDownLatch(1);
        TcpServer server = holdingReplies(5, queued);
        try (LogCapture logs = LogCapture.of("io.stcp.connection");
             TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            assertThat(queued.await(10, TimeUnit.SECONDS)).isTrue();
            server.close();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
            assertExitLineCounts(logs, server, 5);
        } finally {
            Echo.stop(server);
        }
    }
}
