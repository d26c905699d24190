package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Over TLS on a transport that tells readiness, a reader that waits for its idle peer holds no read
 * buffer — neither its own (a wide one, after a frame that filled the small one) nor the encrypted
 * input's — even when the last read left the socket only "maybe readable" (it took all it was
 * offered): the read that finds the socket empty does not wait, and the wait that follows is
 * without the buffers. Before, the TLS layer could not read without waiting, so such a read waited
 * inside, holding both.
 */
class TlsIdleBuffersTest {

    @Test
    void aTlsReaderWaitsForItsIdlePeerWithoutBuffersAfterAReadThatMayHaveLeftInput() throws Exception {
        TestCerts certs = TestCerts.get();
        RealTlsConfig serverTls = RealTlsConfig.forServer(TlsConfig.fromPem(certs.serverCert, certs.serverKey));
        RealTlsConfig clientTls = RealTlsConfig.forClient(TlsConfig.clientBuilder().sslContext(certs.clientContext()).build());
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(20));
        MemoryTransport serverSide = new MemoryTransport();
        MemoryTransport clientSide = new MemoryTransport();
        ReadinessDouble socket = new ReadinessDouble(serverSide, ReadinessDouble.Maybe.AFTER_ANY_READ);
        TlsTransport server = new TlsTransport(socket, serverTls.newServerEngine(), () -> 0);
        TlsTransport client = new TlsTransport(clientSide, clientTls.newClientEngine("localhost", 443), () -> 0);
        Thread toClient = pump(serverSide, clientSide);
        Thread toServer = pump(clientSide, serverSide);
        ConnectionInput in = new ConnectionInput(server, true, null, 0, 0, () -> {});
        try {
            CompletableFuture<Void> clientHandshake = CompletableFuture.runAsync(() -> {
                try {
                    client.handshake(deadline);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }, r -> Thread.ofVirtual().start(r));
            server.handshake(deadline);
            clientHandshake.get(20, TimeUnit.SECONDS);

            int body = ReadBuffers.SIZE - 4; // the frame fills the first, small, buffer: the next reads go wide
            write(client, ByteBuffer.allocate(4 + body).putInt(body).put(new byte[body]).array(), deadline);
            assertThat(in.readBytes(in.readInt(true))).hasSize(body);
            assertThat(in.prepareSuspension()).as("between frames, as the read loop asks").isNotNegative();

            CompletableFuture<Integer> next = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> { // the peer is idle now
                try {
                    next.complete(in.readInt(true));
                } catch (Throwable t) {
                    next.completeExceptionally(t);
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> socket.waiting);
            assertThat(in.bufferCapacity()).as("the reader's buffer, while its peer sends nothing").isZero();
            assertThat(server.readBufferCapacity()).as("the encrypted input's, meanwhile").isZero();

            write(client, new byte[] {0, 0, 0, 9}, deadline);
            assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo(9);
        } finally {
            in.ended();
            server.close();
            client.close();
            toClient.interrupt();
            toServer.interrupt();
            toClient.join();
            toServer.join();
        }
    }

    private static void write(TlsTransport t, byte[] bytes, long deadline) throws IOException {
        t.write(new ByteBuffer[] {ByteBuffer.wrap(bytes)}, 0, 1, deadline);
    }

    /** Moves what {@code from} writes into {@code to}'s input, until interrupted or closed. */
    private static Thread pump(MemoryTransport from, MemoryTransport to) {
        return Thread.ofVirtual().start(() -> {
            try {
                while (from.isOpen()) {
                    byte[] first = from.takeOutput(1, TimeUnit.MILLISECONDS.toNanos(20));
                    if (first.length > 0) {
                        byte[] rest = from.takeOutput();
                        to.feed(ByteBuffer.allocate(first.length + rest.length).put(first).put(rest).array());
                    }
                }
            } catch (InterruptedException | IllegalStateException e) {
                // the test is over
            }
        });
    }
}
