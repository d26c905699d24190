package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A TLS 1.3 key update the peer asks to be answered is answered without holding up the reader: a
 * write under way — here one that waits for a peer that reads nothing — sends the answer when it
 * is done, and the reader goes on reading meanwhile. Before, the reader waited for that write to
 * end (for ever, with no write timeout) before it read another byte.
 */
class TlsKeyUpdateTest {
    private static final int REPLIES = 64; // × 1 MiB: far more than the sockets' buffers hold

    @Test
    void aKeyUpdateDoesNotHoldTheReaderUpBehindAWriteThePeerDoesNotRead() throws Exception {
        TestCerts certs = TestCerts.get();
        AtomicInteger frames = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey))
                        .writeTimeout(Duration.ofSeconds(60)).build(), // the stuck write outlasts the test
                (sender, conn) -> {
                    byte[] body = conn.readBytes(conn.readInt());
                    if (frames.incrementAndGet() > 1) {
                        sender.put(Echo.frame(body));
                        return;
                    }
                    for (int i = 0; i < REPLIES; i++) {
                        sender.put(ByteBuffer.allocate(4 + (1 << 20)).putInt(1 << 20).array());
                    }
                }, QueueSender.options().capacity(REPLIES).maxBytes(0)::build).start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3")) {
            client.sendFrame(new byte[] {1});
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> frames.get() == 1); // the writes begin
            client.socket().startHandshake(); // on TLS 1.3: a key update, the answer asked for
            client.sendFrame(new byte[] {2});
            Awaitility.await("the frame after the key update read").atMost(Duration.ofSeconds(10))
                    .until(() -> frames.get() == 2);

            for (int i = 0; i < REPLIES; i++) {
                assertThat(client.readFrame()).hasSize(1 << 20);
            }
            assertThat(client.readFrame()).containsExactly(2);
            assertThat(client.roundTrip(new byte[] {3})).containsExactly(3); // and the connection goes on
        } finally {
            Echo.stop(server);
        }
    }
}
