package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.Shutter;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a client's {@link TcpClient#shutdown(Duration)} reports: false, and the count in its
 * {@code client.shutdown} line, for every message the client accepted and never wrote — here, those
 * a connection's sender held when the connection broke (not resent: the client does not replay),
 * and a kept message a sender refused. Raw loopback peers that read nothing, then reset.
 */
class TcpClientShutdownCountsLostMessagesTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int N = 400;
    private static final byte[] BIG = Echo.frame(new byte[64 * 1024]); // 400 of them: far more than the sockets' buffers hold

    private final List<QueueSender> senders = new CopyOnWriteArrayList<>();
    private TcpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
    }

    /** A client of {@code port} whose connections' senders (each kept in {@link #senders}) hold all {@link #N} messages. */
    private TcpClient client(int port) {
        ClientConfig config = ClientConfig.builder("127.0.0.1:" + port).writeTimeout(Duration.ZERO)
                .reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50)).build();
        return TcpClient.create(config, (s, c) -> c.readBytes(c.readInt()), c -> {
            QueueSender q = QueueSender.options().capacity(N).maxBytes(0).build(c);
            senders.add(q);
            return q;
        }).start();
    }

    /** Starts {@link #client} to {@code listener}, puts {@link #N} messages, which its sender takes; the peer, which reads nothing. */
    private SocketChannel connectedWithAFullSender(ServerSocketChannel listener) throws Exception {
        client = client(((InetSocketAddress) listener.getLocalAddress()).getPort());
        SocketChannel peer = listener.accept();
        try {
            assertThat(client.awaitConnected(WAIT)).isTrue();
            for (int i = 0; i < N; i++) {
                client.put(BIG);
            }
            return peer;
        } catch (Throwable t) {
            peer.close();
            throw t;
        }
    }

    /**
     * The connection breaks with most of what the client put still in its sender; the client
     * reconnects, and a shutdown then, on the new connection (nothing queued), says not all was
     * written. (It said all was: only the last connection's sender was counted, and, during a
     * drain, those that ended in it.)
     */
    @Test
    void messagesLostWithAConnectionThatBrokeBeforeTheShutdownMakeItSayNotAllWasWritten() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.client");
             ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            try (SocketChannel peer = connectedWithAFullSender(listener)) {
                reset(peer);
            }
            try (SocketChannel next = listener.accept()) {
                Awaitility.await().atMost(WAIT).until(() -> client.connectCount() == 2 && client.isConnected());
                assertThat(client.shutdown(WAIT)).as("all written").isFalse();
            }
            long lost = senders.get(0).stats().discarded();
            assertThat(lost).as("lost with the first connection").isPositive();
            assertThat(senders.get(1).stats().discarded()).isZero();
            assertShutdownLine(logs, lost);
        }
    }

    /** The connection breaks while the shutdown flushes it: false, and what its sender discarded is in the count. */
    @Test
    void messagesLostWithAConnectionThatBreaksDuringTheShutdownsFlushAreCounted() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.client");
             ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            try (SocketChannel peer = connectedWithAFullSender(listener)) {
                // the shutdown waits for its flush, which the peer does not let end
                Shutter shutdown = Shutter.start(client, Duration.ofHours(1), WAIT);
                reset(peer);
                assertThat(shutdown.returned(WAIT)).as("all written").isFalse();
            }
            long lost = senders.get(0).stats().discarded();
            assertThat(lost).isPositive();
            assertShutdownLine(logs, lost);
        }
    }

    /**
     * A kept message the sender refused while the client ran (larger than the sender's byte
     * limit: {@link TcpClient#offlineDropped()}) was never written: a shutdown later says so.
     * (Only one dropped once the client was shutting down counted.)
     */
    @Test
    void aKeptMessageTheSenderRefusedBeforeTheShutdownMakesItSayNotAllWasWritten() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            int port;
            try (ServerSocketChannel probe = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
                port = ((InetSocketAddress) probe.getLocalAddress()).getPort(); // nobody listens there once closed
            }
            List<String> got = new CopyOnWriteArrayList<>();
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + port).reconnectDelay(Duration.ofMillis(5))
                            .reconnectMaxDelay(Duration.ofMillis(50)).offlineQueue(10, 0).build(),
                    (s, c) -> c.readBytes(c.readInt()), c -> QueueSender.options().maxBytes(64).build(c)).start();
            client.put(Echo.frame("a".getBytes(UTF_8)));
            client.put(Echo.frame("x".repeat(100).getBytes(UTF_8))); // kept: the offline queue has no byte limit; the sender's is 64
            TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:" + port).build(),
                    (s, c) -> got.add(new String(c.readBytes(c.readInt()), UTF_8)), SenderFactory.queue(8)).start();
            try {
                assertThat(client.awaitConnected(WAIT)).isTrue(); // the backlog was handed over
                assertThat(client.offlineDropped()).isEqualTo(1);
                client.put(Echo.frame("b".getBytes(UTF_8)));
                Awaitility.await().atMost(WAIT).until(() -> got.size() == 2);
                assertThat(client.shutdown(WAIT)).as("all written").isFalse();
                assertThat(got).containsExactly("a", "b");
                assertShutdownLine(logs, 1L);
            } finally {
                Echo.stop(server);
            }
        }
    }

    /** The peer resets the connection at once (SO_LINGER 0), what it had not read unread. */
    private static void reset(SocketChannel peer) throws Exception {
        peer.setOption(StandardSocketOptions.SO_LINGER, 0);
        peer.close();
    }

    private static void assertShutdownLine(LogCapture logs, long discarded) {
        assertThat(logs.events("client.shutdown")).singleElement()
                .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("discarded", discarded));
    }
}
