package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.TlsConfig;
import io.stcp.testing.TestCerts;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A TLS connection over a JDK transport, whose read waits inside the read and so holds the buffer
 * it reads into for as long as the connection is idle, reads into one record's buffer, not into
 * the four records' a readiness transport lends between reads: over a TCP socket, over the same
 * socket behind the bytes a PROXY header's read took past the header (the start of the
 * ClientHello, which HAProxy sends in the header's packet), and over a Unix socket.
 */
class TlsReadBufferTest {

    @ParameterizedTest
    @ValueSource(strings = {"tcp", "tcp behind a PROXY header's leftover bytes", "unix"})
    void aJdkTransportsIdleTlsConnectionHoldsOneRecordsBuffer(String socket) throws Exception {
        TestCerts certs = TestCerts.get();
        RealTlsConfig serverTls = RealTlsConfig.forServer(TlsConfig.fromPem(certs.serverCert, certs.serverKey));
        RealTlsConfig clientTls = RealTlsConfig.forClient(TlsConfig.clientBuilder().sslContext(certs.clientContext()).build());
        boolean unix = socket.equals("unix");
        Path dir = unix ? Files.createTempDirectory("stcp-tls") : null;
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(20));
        try (ServerSocketChannel listener = unix ? ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                : ServerSocketChannel.open()) {
            listener.bind(unix ? UnixDomainSocketAddress.of(dir.resolve("s")) : new InetSocketAddress("127.0.0.1", 0));
            SocketChannel clientChannel = SocketChannel.open(listener.getLocalAddress());
            SocketChannel serverChannel = listener.accept();
            TlsTransport client = new TlsTransport(unix ? new PolledTransport(clientChannel)
                    : new BlockingTransport(clientChannel, Sweeper.SHARED, () -> { }),
                    clientTls.newClientEngine("localhost", 443), () -> 0);
            Transport under;
            if (unix) {
                under = new PolledTransport(serverChannel);
            } else {
                under = new BlockingTransport(serverChannel, Sweeper.SHARED, () -> { });
            }
            TlsTransport server = null;
            try {
                CompletableFuture<Void> clientHandshake = CompletableFuture.runAsync(() -> {
                    try {
                        client.handshake(deadline);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, r -> Thread.ofVirtual().start(r));
                if (socket.startsWith("tcp behind")) {
                    byte[] first = new byte[10];
                    int n = 0;
                    while (n < first.length) {
                        n += under.read(first, n, first.length - n, deadline);
                    }
                    under = PrefixTransport.of(under, first, 0, n);
                }
                server = new TlsTransport(under, serverTls.newServerEngine(), () -> 0);
                server.handshake(deadline);
                clientHandshake.get(20, TimeUnit.SECONDS);

                client.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {1, 2, 3})}, 0, 1, deadline);
                byte[] b = new byte[64];
                assertThat(server.read(b, 0, b.length, deadline)).isEqualTo(3);

                assertThat(server.readBufferCapacity()).as("the encrypted input's buffer, held while idle")
                        .isEqualTo(TlsBuffers.RECORD);
            } finally {
                client.close();
                under.close();
                clientChannel.close();
                serverChannel.close();
            }
        } finally {
            if (dir != null) {
                Files.deleteIfExists(dir.resolve("s"));
                Files.delete(dir);
            }
        }
    }
}
