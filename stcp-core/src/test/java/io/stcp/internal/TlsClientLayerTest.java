package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.TlsConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * The TLS layer on the client side, for connections the application dials: it sends SNI, checks
 * the server's certificate against the host name, and then reads and writes like the server side.
 */
class TlsClientLayerTest {

    private static RealConnection dial(TcpServer server, TlsLayer layer) throws Exception {
        SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", server.address().getPort()));
        ConnectionContext context = new ConnectionContext(Sweeper.SHARED, null, Transports.sourceOrNull(),
                ExitLog.SHARED, Nanos.timeout(Duration.ofSeconds(5)), 0, 0, Nanos.timeout(Duration.ofSeconds(30)),
                List.of(layer));
        RealConnection c = ConnectionOpener.open(ch, context);
        try {
            c.openLayers();
            return c;
        } catch (Exception e) {
            c.close();
            throw e;
        }
    }

    @Test
    void aDialledConnectionHandshakesAsAClientAndEchoes() throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey).applicationProtocols("echo/1").build();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8)).start();
        try {
            RealTlsConfig client = RealTlsConfig.forClient(TlsConfig.clientBuilder().sslContext(certs.clientContext())
                    .applicationProtocols("echo/1").build());
            RealConnection c = dial(server, TlsLayer.client(client, "localhost", server.address().getPort()));
            try {
                c.write(Echo.frame(new byte[] {1, 2, 3}));
                assertThat(c.readInt()).isEqualTo(3);
                assertThat(c.readBytes(3)).containsExactly(1, 2, 3);
                assertThat(c.tls()).hasValueSatisfying(info -> {
                    assertThat(info.protocol()).isEqualTo("TLSv1.3");
                    assertThat(info.applicationProtocol()).isEqualTo("echo/1");
                    assertThat(info.peerCertificates()).hasSize(1); // the server's, verified
                });
                assertThat(c.transportName()).endsWith("+tls");
                assertThat(client.handshakes()).isOne();
            } finally {
                c.close();
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aServerCertificateForAnotherHostIsRefused() throws Exception {
        TestCerts certs = TestCerts.get();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey))
                .build(), Echo.READER, SenderFactory.queue(8)).start();
        try {
            RealTlsConfig client = RealTlsConfig.forClient(TlsConfig.clientBuilder().sslContext(certs.clientContext()).build());
            assertThatThrownBy(() -> dial(server, TlsLayer.client(client, "wrong.example", server.address().getPort())))
                    .isInstanceOf(SSLHandshakeException.class).hasMessageContaining("for another name");
            assertThat(client.handshakeFailures()).isOne();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void anAbsoluteHostNameIsSentAndCheckedWithoutItsTrailingDot() throws Exception {
        TestCerts certs = TestCerts.get();
        java.util.concurrent.BlockingQueue<io.stcp.TlsInfo> seen = new java.util.concurrent.LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey))
                        .build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> seen.add(s.connection().tls().orElseThrow()))
                .start();
        try {
            RealTlsConfig client = RealTlsConfig.forClient(TlsConfig.clientBuilder().sslContext(certs.clientContext()).build());
            // "localhost." is "localhost" as an absolute DNS name (no search domains); SNI and certificates carry no dot.
            RealConnection c = dial(server, TlsLayer.client(client, "localhost.", server.address().getPort()));
            try {
                c.write(Echo.frame(new byte[] {7}));
                assertThat(c.readInt()).isEqualTo(1);
                assertThat(c.readBytes(1)).containsExactly(7);
            } finally {
                c.close();
            }
            io.stcp.TlsInfo info = seen.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(info).isNotNull();
            assertThat(info.serverName()).isEqualTo("localhost");
        } finally {
            Echo.stop(server);
        }
    }
}
