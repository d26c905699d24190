package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The echo reader, unchanged, over TLS with a JDK client: the session facts reach the hooks. */
class TlsEchoTest {

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void jdkClientEchoesFramesAndTheHooksSeeTheSession(String protocol) throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        BlockingQueue<TlsInfo> seen = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(64))
                .onConnectionStart(s -> seen.add(s.connection().tls().orElseThrow()))
                .start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(), protocol)) {
            for (int i = 0; i < 10; i++) {
                byte[] payload = ("hello " + i).getBytes(StandardCharsets.UTF_8);
                assertThat(client.roundTrip(payload)).isEqualTo(payload);
            }
            TlsInfo info = seen.poll(10, TimeUnit.SECONDS);
            assertThat(info).isNotNull();
            assertThat(info.protocol()).isEqualTo(protocol);
            assertThat(info.cipherSuite()).isEqualTo(client.socket().getSession().getCipherSuite());
            assertThat(info.serverName()).isEqualTo("localhost");
            assertThat(info.peerCertificates()).isEmpty();
            assertThat(info.applicationProtocol()).isNull();
            assertThat(server.stats().tlsHandshakes()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
        assertThat(tls.handshakes()).isEqualTo(1);
        assertThat(tls.handshakeFailures()).isZero();
    }
}
