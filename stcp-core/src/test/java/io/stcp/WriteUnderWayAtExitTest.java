package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.RepeatedTest;

/**
 * A connection closed while its send thread is in a write (a large reply to a peer that does not
 * read): the exit hooks run after that write failed, and the message it was writing is counted
 * discarded by then — in the sender's figures the hooks see and in the server's totals.
 */
class WriteUnderWayAtExitTest {

    @RepeatedTest(3)
    void aWriteUnderWayWhenTheConnectionClosesIsCountedBeforeTheExitHooks() throws Exception {
        CountDownLatch writing = new CountDownLatch(1);
        CompletableFuture<long[]> atExit = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readInt();
            sender.put(new byte[16 << 20]); // far more than the sockets' buffers: the send thread's write blocks
            writing.await();
            conn.close(); // from the reader: it goes on to its end at once, the failing write on its own thread
            conn.readInt();
        }, QueueSender.options().capacity(4).maxBytes(0).writeInline(false)::build)
                .onConnectionExit(s -> {
                    QueueSender q = (QueueSender) s;
                    atExit.complete(new long[] {q.stats().written(), q.stats().discarded()});
                }).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[4]);
            var in = client.socket().getInputStream();
            Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> in.available() > 0); // the write is under way
            writing.countDown();
            long[] counts = atExit.get(20, TimeUnit.SECONDS);
            assertThat(counts[0]).as("written").isZero();
            assertThat(counts[1]).as("discarded, when the exit hooks ran").isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
        assertThat(server.stats().discarded()).as("the server's total").isEqualTo(1);
    }
}
