package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A connection whose channel the application closes behind its back ({@code channel().close()}
 * instead of {@link Connection#close()}) while its reader waits for the next frame: nothing may tell
 * the reader (on epoll the kernel drops the socket's readiness without a word), but the read timeout
 * still ends the wait, and the connection. On epoll the reader waits suspended, watched by the
 * sweeper: the watch must not give up on a connection that is no longer open while its loop still
 * waits, or the connection is never ended, its slot never freed.
 */
class ChannelClosedWhileIdleTest {

    @Test
    void aChannelClosedBehindTheConnectionsBackWhileItsReaderWaitsEndsItAtTheReadTimeout() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofMillis(300)).build(),
                Echo.READER, SenderFactory.queue(8)).onConnectionStart(s -> started.add(s.connection())).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly(1); // the reader waits for the next frame
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn).isNotNull();
            conn.channel().close();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
        } finally {
            Echo.stop(server);
        }
    }
}
