package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.LogCapture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TransportFallbackTest {

    /** A native transport that cannot watch anything, as when the kernel's watch limit is reached. */
    private static final ReadinessSource FULL = new ReadinessSource() {
        @Override
        public String name() {
            return "full";
        }

        @Override
        public String unavailableReason() {
            return null;
        }

        @Override
        public Readiness register(SocketChannel channel) throws IOException {
            throw new IOException("epoll_ctl failed: ENOSPC");
        }
    };

    @Test
    void aSocketTheNativeTransportCannotWatchRunsOnTheJdkTransportAndSaysSo() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel accepted = listener.accept();
             LogCapture log = LogCapture.of("io.stcp.connection")) {
            ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, FULL, ExitLog.SHARED,
                    Duration.ofSeconds(5).toNanos(), 0, 0, 0, java.util.List.of());
            RealConnection conn = ConnectionOpener.open(accepted, context);
            try {
                assertThat(conn.transportName()).isEqualTo("jdk");
                assertThat(accepted.isBlocking()).isTrue();
                assertThat(LogCapture.fields(log.events("conn.transport.fallback").get(0)))
                        .containsEntry("transport", "full").containsEntry("error", "java.io.IOException: epoll_ctl failed: ENOSPC");

                client.write(ByteBuffer.allocate(4).putInt(42).flip());
                assertThat(conn.readInt()).isEqualTo(42);
                conn.write(new byte[] {7});
                ByteBuffer reply = ByteBuffer.allocate(1);
                client.read(reply);
                assertThat(reply.get(0)).isEqualTo((byte) 7);
            } finally {
                conn.close();
            }
        }
    }
}
