package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A peer that resets its connection (a close with a zero linger time) ends it with
 * {@link CloseReason#PEER_RESET}, not as an orderly end or a protocol error: the transport words
 * the failure as the JDK does. Runs on the JDK transport here and on epoll in {@code stcp-epoll}.
 */
class PeerResetTest {

    @Test
    void aResetEndsTheConnectionWithPeerReset() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16)).start();
        try {
            try (Socket peer = new Socket(server.address().getAddress(), server.address().getPort())) {
                DataOutputStream out = new DataOutputStream(peer.getOutputStream());
                out.writeInt(3);
                out.write(new byte[] {1, 2, 3});
                DataInputStream in = new DataInputStream(peer.getInputStream());
                assertThat(in.readInt()).isEqualTo(3); // the server's reader is under way
                in.readFully(new byte[3]);
                peer.setSoLinger(true, 0);
            }

            Awaitility.await().until(() -> server.connectionCount() == 0);
            assertThat(server.stats().closed(CloseReason.PEER_RESET)).isEqualTo(1);
            assertThat(server.stats().closed(CloseReason.PEER_CLOSED)).isZero();
        } finally {
            Echo.stop(server);
        }
    }
}
