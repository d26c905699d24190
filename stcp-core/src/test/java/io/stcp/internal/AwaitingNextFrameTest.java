package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.internal.ConnectionInput.Awaiting;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * What a reader waits for, as a graceful close on another thread sees it
 * ({@link ConnectionInput#awaiting()}), in a reader that reads many frames in one call (one that
 * serves a whole conversation in it): between two frames it waits for its next value, none of it
 * in hand (NEXT, the peer may be idle: such a close ends at once), and inside a frame for the rest
 * of one (REST: the close waits for the peer's quiet). Before, every wait after the call's first
 * frame counted as one for the rest of a value, the call having consumed bytes: a close on another
 * thread waited 200 ms for an idle peer's quiet where it closed at once. Both transports (stcp-epoll
 * runs it again).
 */
class AwaitingNextFrameTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aReaderOfManyFramesInOneCallWaitsForItsNextBetweenThemAndForTheRestInsideOne() throws Exception {
        AtomicReference<RealConnection> connection = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            connection.set((RealConnection) conn);
            while (conn.readLine(100) != null) {
                // the whole conversation in this one call
            }
        }, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw("first\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(waitsAfter(connection, 6)).as("between two frames").isEqualTo(Awaiting.NEXT);

            client.sendRaw("sec".getBytes(StandardCharsets.US_ASCII)); // taken into the reader's buffer, or consumed: either is part of a value
            Awaitility.await().atMost(WAIT).until(() -> connection.get().input().awaiting() == Awaiting.REST);

            client.sendRaw("ond\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(waitsAfter(connection, 13)).as("between two frames again").isEqualTo(Awaiting.NEXT);
        } finally {
            Echo.stop(server);
        }
    }

    /** What the reader waits for once it has read {@code bytes} in all and waits for more. */
    private static Awaiting waitsAfter(AtomicReference<RealConnection> connection, long bytes) {
        Awaitility.await().atMost(WAIT).until(() -> connection.get() != null
                && connection.get().input().bytesRead() == bytes && connection.get().input().isAwaitingInput());
        return connection.get().input().awaiting();
    }
}
