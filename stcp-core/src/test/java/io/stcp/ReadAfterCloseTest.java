package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A reader that goes on reading after a read failed because another thread closed its connection
 * (a send that found a slow consumer, say, while the reader relayed a body) is told at once that
 * the connection is closed, every time; runs again on epoll, where the second read spun on the
 * closed socket until its deadline (the frame timeout here; for ever without one), holding a core.
 */
class ReadAfterCloseTest {

    @Test
    void everyReadAfterACloseByAnotherThreadFailsAtOnce() throws Exception {
        CompletableFuture<IOException> first = new CompletableFuture<>();
        CompletableFuture<Object> second = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
            conn.readBytes(1);
            Thread.ofVirtual().start(() -> conn.close()); // as a slow consumer's close does, from a pushing thread
            try {
                conn.readBytes(1); // waits for input until the close
                first.completeExceptionally(new AssertionError("a byte after the close"));
            } catch (IOException e) {
                first.complete(e);
            }
            long start = System.nanoTime();
            try {
                conn.readBytes(1);
                second.complete("a byte after the close");
            } catch (IOException e) {
                second.complete(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms: " + e);
            }
            throw new IOException("done");
        }, SenderFactory.queue(16)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[] {1});
            assertThat(first.get(10, TimeUnit.SECONDS)).isNotNull();
            assertThat(second.get(10, TimeUnit.SECONDS)).as("the read after the failed one")
                    .asString().contains(" ms: ");
        } finally {
            Echo.stop(server);
        }
    }
}
