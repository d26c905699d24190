package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.internal.ConnectionChannel;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.IllegalSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The application closes a connection's channel ({@code channel().close()}) instead of the
 * connection: on every transport that is the connection's close — it ends at once, reason
 * {@link CloseReason#CLOSED}, its peer sees the close, its exit hooks run once, the server counts
 * it once — and no byte of its replies reaches the next client. Before, on epoll, a reader waiting
 * for input was told nothing, and the connection ended only at its read timeout.
 *
 * <p>The JDK channel under it closed behind the connection's back (not through {@code channel()},
 * whose socket and streams close the connection too, but by its descriptor's number, say: outside
 * the contract) while its reader waits for the next frame: nothing may tell the reader (on epoll
 * the kernel drops the socket's registration without a word), but the read timeout still ends the
 * wait, and the connection. On epoll the reader waits suspended, watched by the sweeper: the
 * watch must not give up on a connection that is no longer open while its loop still waits, or the
 * connection is never ended, its slot never freed.
 */
class ChannelClosedWhileIdleTest {
    /** A's replies, queued by its reader right before it closes the channel. */
    private static final byte[] A_REPLY = "A's reply, for A only".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @Test
    void closingTheChannelClosesTheConnectionOnceAndItsRepliesNeverReachAnotherClient() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        // A frame [9]: queue replies, then close the channel. Anything else: echo.
        ConnectionReader reader = (sender, conn) -> {
            byte[] frame = conn.readBytes(conn.readInt());
            if (frame.length == 1 && frame[0] == 9) {
                for (int i = 0; i < 64; i++) {
                    sender.put(Echo.frame(A_REPLY));
                }
                conn.channel().close();
                return;
            }
            sender.put(Echo.frame(frame));
        };
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofSeconds(30)).build(),
                        reader, SenderFactory.queue(128))
                .onConnectionStart(s -> started.add(s.connection()))
                .onConnectionExit(s -> exits.add(s.connection().closeReason())).start();
        try {
            // From another thread, while the reader waits for the next frame.
            try (TestClient idle = TestClient.connect(server.address())) {
                assertThat(idle.roundTrip(new byte[] {1})).containsExactly(1);
                Connection conn = started.poll(10, TimeUnit.SECONDS);
                SocketChannel channel = conn.channel();
                channel.close();
                assertThat(exits.poll(5, TimeUnit.SECONDS)).as("the exit, at once: no read timeout").isEqualTo(CloseReason.CLOSED);
                assertThat(idle.awaitClosedByServer()).as("the peer sees the close").isTrue();
                assertThat(conn.isOpen()).isFalse();
                assertThat(channel.isOpen()).isFalse();
            }

            // By the reader, with replies queued; then another client takes the freed descriptor.
            try (TestClient a = TestClient.connect(server.address())) {
                a.sendFrame(new byte[] {9});
                assertThat(started.poll(10, TimeUnit.SECONDS)).isNotNull(); // A's
                assertThat(exits.poll(5, TimeUnit.SECONDS)).isEqualTo(CloseReason.CLOSED);
                readUntilClosed(a); // A's replies only, as many as were written before the close
                try (TestClient b = TestClient.connect(server.address())) {
                    assertThat(b.roundTrip(new byte[] {2})).containsExactly(2);
                    SocketChannel channel = started.poll(10, TimeUnit.SECONDS).channel();
                    boolean blocking = channel.isBlocking();
                    assertThatThrownBy(() -> channel.configureBlocking(!blocking)).as("the mode is the transport's")
                            .isInstanceOf(IllegalBlockingModeException.class);
                    try (Selector selector = Selector.open()) {
                        assertThatThrownBy(() -> channel.register(selector, SelectionKey.OP_READ))
                                .isInstanceOf(blocking ? IllegalBlockingModeException.class : IllegalSelectorException.class);
                    }
                    for (int i = 0; i < 3; i++) {
                        assertThat(b.roundTrip(new byte[] {7})).as("B gets its own echo, nothing of A's").containsExactly(7);
                    }
                    assertThat(b.socket().getInputStream().available()).isZero();
                }
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
            assertThat(exits).as("each exit hook once: B's is the last").containsExactly(CloseReason.PEER_CLOSED);
            ServerStats stats = server.stats();
            assertThat(stats.closed(CloseReason.CLOSED)).as("the two closed through their channel, each once").isEqualTo(2);
            assertThat(stats.closed(CloseReason.PEER_CLOSED)).isEqualTo(1);
            assertThat(stats.closed().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(3);
        } finally {
            Echo.stop(server);
        }
    }

    /** A way to close a connection's socket. */
    private interface SocketClose {
        void close(Socket socket) throws Exception;
    }

    @Test
    void closingTheChannelsSocketOrOneOfItsStreamsClosesTheConnectionAtOnce() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        BlockingQueue<CloseReason> exits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofSeconds(30)).build(),
                        Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> started.add(s.connection()))
                .onConnectionExit(s -> exits.add(s.connection().closeReason())).start();
        List<SocketClose> closes = List.of(Socket::close, s -> s.getInputStream().close(), s -> s.getOutputStream().close());
        try {
            for (SocketClose close : closes) {
                try (TestClient client = TestClient.connect(server.address())) {
                    assertThat(client.roundTrip(new byte[] {1})).containsExactly(1); // the reader waits for the next frame
                    Connection conn = started.poll(10, TimeUnit.SECONDS);
                    SocketChannel channel = conn.channel();
                    Socket socket = channel.socket();
                    assertThat(channel.socket()).as("one socket for the channel").isSameAs(socket);
                    assertThat(socket.getChannel()).isSameAs(channel);
                    assertThat(socket.getPort()).isEqualTo(client.socket().getLocalPort());
                    assertThat(socket.getTcpNoDelay()).as("options are the JDK socket's").isTrue();
                    close.close(socket);
                    // The JDK channel's close alone would have bypassed the transport: on epoll nobody
                    // was told, and the connection ended at its read timeout, 30 s later.
                    assertThat(exits.poll(5, TimeUnit.SECONDS)).as("the exit, at once").isEqualTo(CloseReason.CLOSED);
                    assertThat(client.awaitClosedByServer()).as("the peer sees the close").isTrue();
                    assertThat(conn.isOpen()).isFalse();
                    assertThat(channel.isOpen()).isFalse();
                    assertThat(socket.isClosed()).isTrue();
                }
            }
            Awaitility.await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10)).atMost(Duration.ofSeconds(10))
                    .until(() -> server.connectionCount() == 0);
            ServerStats stats = server.stats();
            assertThat(stats.closed(CloseReason.CLOSED)).as("each closed once").isEqualTo(3);
            assertThat(stats.closed().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(3);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aChannelClosedBehindTheConnectionsBackWhileItsReaderWaitsEndsItAtTheReadTimeout() throws Exception {
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofMillis(300)).build(),
                Echo.READER, SenderFactory.queue(8)).onConnectionStart(s -> started.add(s.connection())).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly(1); // the reader waits for the next frame
            Connection conn = started.poll(10, TimeUnit.SECONDS);
            assertThat(conn).isNotNull();
            // stcp's own handle on the JDK channel: the application's (channel(), its socket) close the connection
            ((ConnectionChannel) conn.channel()).jdkChannel().close();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /** Reads until the server's close (EOF or reset): what came is A's replies, the last perhaps cut by the close. */
    private static void readUntilClosed(TestClient client) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = client.socket().getInputStream().read(buf)) >= 0; ) {
                all.write(buf, 0, n);
            }
        } catch (SocketException reset) {
            // the close may reset: what came before it counts
        }
        byte[] got = all.toByteArray();
        byte[] reply = Echo.frame(A_REPLY);
        for (int off = 0; off < got.length; off += reply.length) {
            int n = Math.min(reply.length, got.length - off);
            assertThat(Arrays.copyOfRange(got, off, off + n)).isEqualTo(Arrays.copyOf(reply, n));
        }
    }
}
