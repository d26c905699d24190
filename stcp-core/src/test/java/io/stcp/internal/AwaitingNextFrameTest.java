package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.internal.ConnectionInput.Awaiting;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * What a reader waits for, as a graceful close on another thread sees it
 * ({@link ConnectionInput#awaiting()}), in a reader that reads many frames in one call (one that
 * serves a whole conversation in it), and in an application's reads with no runner: between two
 * frames it waits for its next value, none of it in hand (NEXT, the peer may be idle: such a close
 * ends at once), and inside a frame for the rest of one (REST: the close waits for the peer's
 * quiet). Before, every wait after the call's first frame counted as one for the rest of a value,
 * the call having consumed bytes: a close on another thread waited 200 ms for an idle peer's quiet
 * where it closed at once. Both transports (stcp-epoll runs it again).
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

    /**
     * With no runner ({@code Connection.of}), the application's reads make one call that reads many
     * values: a value begins at the first read, and after each frame a framing reader (here
     * {@code readLine}) completes; reads by other means are in the middle of one after their first.
     * Before, each read counted as a value of its own: a read of a body after one of its length
     * waited for the next value (NEXT), and a close on another thread closed at once, resetting the
     * peer whose body came then.
     */
    @Test
    void anApplicationsReadsMakeAValueUntilAFramingReaderCompletesAFrame() throws Exception {
        try (SocketPair pair = SocketPair.open()) {
            RealConnection conn = (RealConnection) pair.server;
            CompletableFuture<Integer> length = SocketPair.readIntOnceWaiting(conn);
            assertThat(waits(conn)).as("the first read").isEqualTo(Awaiting.NEXT);
            pair.clientWrite(ByteBuffer.allocate(4).putInt(3).array());
            assertThat(length.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(3);

            CompletableFuture<byte[]> body = SocketPair.readOnceWaiting(() -> conn.readBytes(3));
            assertThat(waits(conn)).as("a read of the body after one of its length").isEqualTo(Awaiting.REST);
            pair.clientWrite("abc".getBytes(StandardCharsets.US_ASCII));
            assertThat(body.get(WAIT.toSeconds(), TimeUnit.SECONDS)).asString(StandardCharsets.US_ASCII).isEqualTo("abc");

            CompletableFuture<byte[]> line = SocketPair.readOnceWaiting(() -> conn.readLine(100));
            assertThat(waits(conn)).as("a line after reads by other means").isEqualTo(Awaiting.REST);
            pair.clientWrite("line\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(line.get(WAIT.toSeconds(), TimeUnit.SECONDS)).asString(StandardCharsets.US_ASCII).isEqualTo("line");

            CompletableFuture<Integer> next = SocketPair.readIntOnceWaiting(conn);
            assertThat(waits(conn)).as("a read after the line").isEqualTo(Awaiting.NEXT);
            pair.clientWrite(new byte[4]);
            assertThat(next.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isZero();
            conn.close();
        }
    }

    /** What {@code conn}'s read under way waits for, once it waits for input. */
    private static Awaiting waits(RealConnection conn) {
        Awaitility.await().atMost(WAIT).until(() -> conn.input().isAwaitingInput());
        return conn.input().awaiting();
    }

    /** What the reader waits for once it has read {@code bytes} in all and waits for more. */
    private static Awaiting waitsAfter(AtomicReference<RealConnection> connection, long bytes) {
        Awaitility.await().atMost(WAIT).until(() -> connection.get() != null
                && connection.get().input().bytesRead() == bytes && connection.get().input().isAwaitingInput());
        return connection.get().input().awaiting();
    }
}
