package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.QueueSender;
import io.stcp.TlsConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.DataInputStream;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A TLS reader waiting in a put for room holds of its TLS layer's buffers no more than the bytes
 * the peer sent that it has not taken: the encrypted ones not yet decrypted and the decrypted ones
 * not yet read, each in a buffer of their size, as its own read buffer holds only its bytes left
 * ({@link ReadBufferPutWaitTest}). Before, the layer kept its read-ahead buffer (four records,
 * 68 KiB, on a transport that tells readiness; one record's, 17 KiB, on the JDK's) and a record's
 * buffer of decrypted bytes for the whole wait: 1,000 TLS peers pipelining 40,000-byte frames that
 * never read ran a 256 MiB epoll server out of heap. Every frame still comes back whole once the
 * peer reads.
 */
class TlsPutWaitBuffersTest {
    private static final int FRAME = 40_004;
    private static final int FRAMES = 400;

    private final WideBuffersTaken wide = new WideBuffersTaken();
    private final FramingPeers peers = new FramingPeers();
    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    private RealTcpServer server;
    private TlsClient peer;

    @AfterEach
    void tearDown() throws Exception {
        wide.close();
        if (server != null) {
            Echo.stop(server); // first: a writer blocked in the peer's socket ends with its connection
        }
        peers.close(); // the peer's socket, and its writer
        if (peer != null) {
            peer.close();
        }
    }

    @Test
    void aTlsReaderWaitingForOutboundRoomHoldsOnlyTheBytesItHasNotTaken() throws Exception {
        TestCerts certs = TestCerts.get();
        server = new RealTcpServer(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey))
                .inboundBudget(32 << 20).outboundBudget(1 << 20).writeTimeout(Duration.ZERO)
                .frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
                    int n = conn.readInt();
                    sender.put(conn.readBytes(n));
                }, QueueSender.options().capacity(1024).maxBytes(64 << 20)::build); // only the outbound budget binds
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();

        peer = TlsClient.connect(server.address(), certs.clientContext());
        peers.pipeline(peer.socket(), FRAME - 4, FRAMES); // reads nothing until the test does
        RealConnection c = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(c).isNotNull();
        OutboundBudget outbound = c.context().outboundBudget();
        TlsTransport tls = (TlsTransport) c.transport();
        int[] seen = Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> waiting(outbound, c.input(), tls), s -> s != null);
        assertThat(seen[1]).as("encrypted input's buffer while the put waits, %s bytes not decrypted (the old"
                + " code: a pooled one, of %s or %s bytes)", seen[0], TlsBuffers.BULK, TlsBuffers.RECORD).isEqualTo(seen[0]);
        assertThat(seen[3]).as("decrypted input's buffer while the put waits, %s bytes not read", seen[2])
                .isEqualTo(seen[2]);

        // The peer reads now: every frame's body comes back whole, the bytes parked at each wait included.
        DataInputStream in = new DataInputStream(peer.socket().getInputStream());
        peer.socket().setSoTimeout(30_000);
        byte[] body = new byte[FRAME - 4];
        for (int i = 0; i < FRAMES; i++) {
            in.readFully(body);
            assertThat(body).as("frame %s echoed", i).containsOnly((byte) i);
        }
    }

    /**
     * The TLS layer's encrypted bytes held and its buffer's size, its decrypted bytes held and
     * theirs, looked at while the reader's put waits for the budget (the budget's lock orders the
     * reader's writes before these looks), or null: it does not wait, or it read meanwhile.
     */
    private static int @Nullable [] waiting(OutboundBudget outbound, ConnectionInput input, TlsTransport tls) {
        long read = input.bytesRead();
        if (outbound.waiters() != 1) {
            return null;
        }
        int[] seen = {tls.encryptedHeld(), tls.readBufferCapacity(), tls.availableToRead(), tls.appBufferCapacity()};
        return outbound.waiters() == 1 && input.bytesRead() == read ? seen : null;
    }
}
