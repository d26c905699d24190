package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.Shutter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client's {@link TcpClient#close()} while its {@link TcpClient#shutdown(Duration)} is flushing
 * to a server that reads nothing: the close is immediate, the flush stops.
 */
class TcpClientCloseDuringShutdownTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private TcpClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
    }

    @Test
    void closeCutsAShutdownsStuckFlushShortAndWhatItDiscardsIsCounted() throws Exception {
        int n = 400;
        byte[] big = Echo.frame(new byte[64 * 1024]); // 26 MB in all: far more than the sockets' buffers hold
        AtomicReference<QueueSender> sender = new AtomicReference<>();
        try (LogCapture logs = LogCapture.of("io.stcp.connection");
             ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            ClientConfig config = ClientConfig.builder("127.0.0.1:" + port)
                    .writeTimeout(Duration.ZERO) // no write timeout: nothing but the close ends the flush
                    .build();
            client = TcpClient.create(config, (s, c) -> c.readInt(), c -> {
                QueueSender q = QueueSender.options().capacity(n).maxBytes(0).build(c);
                sender.set(q);
                return q;
            }).start();
            try (SocketChannel peer = listener.accept()) { // reads nothing until the client has closed
                assertThat(client.awaitConnected(WAIT)).isTrue();
                for (int i = 0; i < n; i++) {
                    client.put(big);
                }
                // the shutdown waits for its flush, which the peer does not let end
                Shutter shutdown = Shutter.start(client, Duration.ofHours(1), WAIT);
                assertThat(shutdown.result()).isNotDone();

                client.close();
                assertThat(shutdown.returned(WAIT))
                        .as("shutdown() cut short by close() with most of %s messages unwritten", n).isFalse();
                assertThat(client.awaitTermination(WAIT)).isTrue();
                assertThat(client.termination()).isCompleted();

                // the connection's socket is closed: the peer reads what the buffers held, then its end
                long bytes = readToEnd(peer);
                assertThat(bytes).isLessThan((long) n * big.length);
                QueueSender.Stats stats = sender.get().stats();
                assertThat(stats.discarded()).as("discarded").isPositive();
                assertThat(stats.written() + stats.discarded()).as("written + discarded").isEqualTo(n);
                List<ILoggingEvent> exits = logs.events("conn.exit");
                assertThat(exits).hasSize(1);
                assertThat(LogCapture.fields(exits.get(0))).as("conn.exit")
                        .containsEntry("discarded", (int) stats.discarded());
            }
        }
    }

    /** Reads {@code peer} to its end (or a reset), on a thread of its own; the bytes read. */
    private static long readToEnd(SocketChannel peer) throws Exception {
        CompletableFuture<Long> read = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
            long bytes = 0;
            try {
                for (int r; (r = peer.read(buf.clear())) >= 0; ) {
                    bytes += r;
                }
            } catch (IOException e) {
                // reset: closed all the same
            }
            read.complete(bytes);
        });
        return read.get(WAIT.toSeconds(), TimeUnit.SECONDS); // a socket left open fails here; the caller's close ends the read
    }
}
