package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WriteTimeoutTest {
    private static final byte[] MEGABYTE = new byte[1 << 20];

    @Test
    void aPeerThatNeverReadsFailsTheSendWithinTheTimeoutAndTheExitHooksRun() throws Exception {
        BlockingQueue<Long> exitedAfterNanos = new LinkedBlockingQueue<>();
        long[] startedAt = new long[1];
        int[] countInExitHook = new int[1];
        CloseReason[] reason = new CloseReason[1];
        TcpServer[] self = new TcpServer[1];
        // The start hook queues far more than the socket buffers hold; the client never reads.
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofMillis(300)).build(),
                        Echo.READER, QueueSender.options().capacity(256).maxBytes(0)::build)
                .onConnectionStart(s -> {
                    startedAt[0] = System.nanoTime();
                    for (int i = 0; i < 128; i++) {
                        s.put(MEGABYTE);
                    }
                })
                .onConnectionExit(s -> {
                    countInExitHook[0] = self[0].connectionCount();
                    reason[0] = s.connection().closeReason();
                    exitedAfterNanos.add(System.nanoTime() - startedAt[0]);
                })
                .start();
        self[0] = server;
        try (TestClient client = TestClient.connect(server.address())) {
            Long elapsed = exitedAfterNanos.poll(20, TimeUnit.SECONDS);
            assertThat(elapsed).as("connection ended by the write timeout").isNotNull();
            assertThat(elapsed).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300));
            assertThat(reason[0]).isEqualTo(CloseReason.WRITE_TIMEOUT);
            // A connection counts until its exit hooks have returned: inside its own, it counts itself.
            assertThat(countInExitHook[0]).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aDirectWriteToAPeerThatNeverReadsThrowsWriteTimeoutException() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel accepted = listener.accept()) {
            Connection conn = Connection.of(accepted);
            conn.writeTimeout(Duration.ofMillis(200));
            assertThatThrownBy(() -> {
                for (int i = 0; i < 1024; i++) {
                    conn.write(ByteBuffer.wrap(MEGABYTE));
                }
            }).isInstanceOf(WriteTimeoutException.class).hasMessageContaining("200ms");
            assertThat(conn.isOpen()).isFalse();
        }
    }

    @Test
    void aZeroWriteTimeoutMeansNoTimeoutNotFailEveryWrite() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ZERO).build(), Echo.READER,
                SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            for (int i = 0; i < 10; i++) {
                assertThat(client.roundTrip(new byte[] {(byte) i})).containsExactly(i);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aWriteAfterCloseFailsAndLeavesNothingWatched() throws Exception {
        // The first write with a timeout registers the connection with the write watchdog; after
        // close() it must not stay registered (the leak check fails the test if the watchdog
        // thread keeps running for it).
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel accepted = listener.accept()) {
            Connection conn = Connection.of(accepted);
            conn.close();
            assertThatThrownBy(() -> conn.write(new byte[] {1})).isInstanceOf(java.io.IOException.class);
        }
    }
}
