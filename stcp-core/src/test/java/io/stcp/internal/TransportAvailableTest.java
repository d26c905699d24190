package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.Connection;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import org.junit.jupiter.api.Test;

/**
 * A socket's transport counts the bytes its socket holds: {@code readBytes} sizes the array of a
 * large value from them. Runs on the JDK transport here and on epoll in {@code stcp-epoll}.
 */
class TransportAvailableTest {

    @Test
    void theTransportCountsTheBytesTheSocketHoldsAndNoneOnceClosed() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress())) {
            RealConnection conn = (RealConnection) Connection.of(listener.accept());
            // Within the receiver's first window on any loopback (tcp_rmem's default 128 KiB, of
            // which tcp_adv_win_scale=1 offers half): bytes beyond it wait in the client's send
            // buffer until the server reads, which this test never does.
            int sent = 20_000;
            ByteBuffer bytes = ByteBuffer.allocate(sent);
            while (bytes.hasRemaining()) {
                client.write(bytes);
            }

            await().until(() -> conn.transport().available() == sent);
            conn.close();

            assertThat(conn.transport().available()).isZero();
        }
    }
}
