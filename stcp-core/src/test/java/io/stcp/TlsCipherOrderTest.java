package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which cipher suite a server picks for a client that prefers AES-256-GCM: AES-128-GCM with no
 * suites configured (as Netty's SslHandler would), the client's first with suites configured in
 * that order (a configured order is kept as it is).
 */
class TlsCipherOrderTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "TLSv1.3, TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256",
            "TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"})
    void aServerWithNoSuitesOfItsOwnPicksAes128ForAClientThatPrefersAes256(String protocol, String aes256, String aes128)
            throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        assertThat(negotiated(tls, protocol, aes256, aes128)).isEqualTo(aes128);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "TLSv1.3, TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256",
            "TLSv1.2, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"})
    void suitesConfiguredWithAes256FirstAreUsedInThatOrder(String protocol, String aes256, String aes128) throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey)
                .cipherSuites("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
                .build();
        assertThat(negotiated(tls, protocol, aes256, aes128)).isEqualTo(aes256);
    }

    /** The suite a JDK client offering {@code offered} (in that order) gets from an echo server with {@code tls}, after one round trip. */
    private static String negotiated(TlsConfig tls, String protocol, String... offered) throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(16)).start();
        try (SSLSocket s = (SSLSocket) TestCerts.get().clientContext().getSocketFactory()
                .createSocket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(10_000);
            s.setEnabledProtocols(new String[] {protocol});
            s.setEnabledCipherSuites(offered);
            s.startHandshake();
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.writeInt(2);
            out.write(new byte[] {'h', 'i'});
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            assertThat(in.readInt()).isEqualTo(2);
            byte[] echoed = new byte[2];
            in.readFully(echoed);
            assertThat(echoed).containsExactly('h', 'i');
            return s.getSession().getCipherSuite();
        } finally {
            server.shutdown(java.time.Duration.ofSeconds(5));
        }
    }
}
