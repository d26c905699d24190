package io.stcp;

import static io.stcp.testing.ProxyHeaders.v1;
import static io.stcp.testing.ProxyHeaders.v2;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A PROXY header first, then the TLS handshake on the same connection: both layers, in that order. */
class ProxyProtocolTlsTest {
    private static final InetSocketAddress CLIENT = new InetSocketAddress("192.0.2.9", 40000);
    private static final InetSocketAddress FRONTEND = new InetSocketAddress("198.51.100.2", 9443);

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();

    private TcpServer start(TlsConfig tls) throws Exception {
        return TcpServer.create(Echo.loopback().proxyProtocol(ProxyProtocol.required("127.0.0.1/32")).tls(tls).build(),
                Echo.READER, SenderFactory.queue(16)).onConnectionStart(s -> started.add(s.connection())).start();
    }

    @Test
    void theReaderSeesTheClientOfTheHeaderAndTheDecryptedBytes() throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        TcpServer server = start(tls);
        try {
            for (byte[] header : new byte[][] {v1(CLIENT, FRONTEND), v2(CLIENT, FRONTEND).bytes()}) {
                try (TlsClient c = TlsClient.connect(server.address(), certs.clientContext(), header, "TLSv1.3")) {
                    byte[] payload = "through both layers".getBytes(StandardCharsets.UTF_8);
                    assertThat(c.roundTrip(payload)).isEqualTo(payload);
                    Connection conn = started.poll(10, TimeUnit.SECONDS);
                    assertThat(conn).isNotNull();
                    assertThat(conn.remoteAddress()).isEqualTo(CLIENT);
                    assertThat(conn.tls()).get().extracting(TlsInfo::protocol).isEqualTo("TLSv1.3");
                }
            }
            assertThat(server.acceptedCount()).isEqualTo(2);
            assertThat(tls.handshakes()).isEqualTo(2);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aTlsClientWithoutTheHeaderIsRefusedBeforeAnyHandshake() throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        TcpServer server = start(tls);
        try {
            // The ClientHello is not a PROXY header: the connection ends before TLS sees a byte.
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3").close())
                    .isInstanceOf(java.io.IOException.class);
            Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> server.stats().rejectedTotal() + server.stats().closed().values().stream()
                            .mapToLong(Long::longValue).sum() >= 1);
            assertThat(tls.handshakes()).isZero();
            assertThat(tls.handshakeFailures()).isZero();
            assertThat(started).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }
}
