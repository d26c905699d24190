package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Mutual TLS: a client certificate signed by the trusted CA is accepted and reaches the hooks; no
 * certificate, one from another CA, or an expired one is refused and counted.
 */
class TlsClientAuthTest {
    private static TestCerts certs;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    private static TlsConfig tls(TlsConfig.ClientAuth auth) throws Exception {
        return TlsConfig.builder().pem(certs.serverCert, certs.serverKey).trustPem(certs.caCert).clientAuth(auth).build();
    }

    private static TcpServer start(TlsConfig tls, BlockingQueue<TlsInfo> seen) throws IOException {
        return TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> seen.add(s.connection().tls().orElseThrow())).start();
    }

    @Test
    void aClientWithACertificateFromTheTrustedCaIsAcceptedAndIdentified() throws Exception {
        TlsConfig tls = tls(TlsConfig.ClientAuth.REQUIRED);
        BlockingQueue<TlsInfo> seen = new LinkedBlockingQueue<>();
        TcpServer server = start(tls, seen);
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(certs.clientCert, certs.clientKey))) {
            assertThat(client.roundTrip(new byte[] {1, 2})).containsExactly(1, 2);
            TlsInfo info = seen.poll(10, TimeUnit.SECONDS);
            assertThat(info).isNotNull();
            assertThat(info.peerCertificates()).hasSize(1);
            assertThat(info.peerCertificates().get(0).getSubjectX500Principal().getName()).isEqualTo("CN=stcp test client");
            assertThat(info.peerCommonName()).contains("stcp test client");
        } finally {
            Echo.stop(server);
        }
        assertThat(tls.handshakeFailures()).isZero();
    }

    @Test
    void clientsWithoutAGoodCertificateAreRefused() throws Exception {
        TlsConfig tls = tls(TlsConfig.ClientAuth.REQUIRED);
        TcpServer server = start(tls, new LinkedBlockingQueue<>());
        try {
            refused(server, certs.clientContext());
            refused(server, certs.clientContext(certs.expiredClientCert, certs.expiredClientKey));
            // The JDK's client only offers certificates from the CAs the server names; openssl sends it anyway.
            assertThat(opensslEchoes(server, certs.untrustedClientCert, certs.untrustedClientKey)).isFalse();
            Awaitility.await().until(() -> tls.handshakeFailures() == 3);
            assertThat(tls.handshakes()).isZero();
            assertThat(server.stats().tlsHandshakeFailures()).isEqualTo(3); // the server's snapshot shows them too
            assertThat(server.stats().tlsHandshakes()).isZero();
        } finally {
            Echo.stop(server);
        }
    }

    /** TLS 1.3 lets the client finish first: the refusal may come as the handshake's failure or the first read's. */
    private static void refused(TcpServer server, SSLContext context) {
        assertThatThrownBy(() -> {
            try (TlsClient client = TlsClient.connect(server.address(), context)) {
                client.roundTrip(new byte[] {1});
            }
        }).isInstanceOf(IOException.class);
    }

    @Test
    void optionalClientAuthAcceptsClientsWithAndWithoutACertificate() throws Exception {
        TlsConfig tls = tls(TlsConfig.ClientAuth.OPTIONAL);
        BlockingQueue<TlsInfo> seen = new LinkedBlockingQueue<>();
        TcpServer server = start(tls, seen);
        try {
            try (TlsClient anonymous = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(anonymous.roundTrip(new byte[] {3})).containsExactly(3);
            }
            assertThat(seen.poll(10, TimeUnit.SECONDS).peerCertificates()).isEmpty();
            try (TlsClient known = TlsClient.connect(server.address(), certs.clientContext(certs.clientCert, certs.clientKey))) {
                assertThat(known.roundTrip(new byte[] {4})).containsExactly(4);
            }
            assertThat(seen.poll(10, TimeUnit.SECONDS).peerCertificates()).hasSize(1);
            assertThat(opensslEchoes(server, certs.untrustedClientCert, certs.untrustedClientKey)).isFalse();
            Awaitility.await().until(() -> tls.handshakeFailures() == 1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void opensslClientWithACertificateIsAccepted() throws Exception {
        TcpServer server = start(tls(TlsConfig.ClientAuth.REQUIRED), new LinkedBlockingQueue<>());
        try {
            assertThat(opensslEchoes(server, certs.clientCert, certs.clientKey)).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /** Whether {@code openssl s_client} presenting {@code cert} gets a frame echoed. */
    private static boolean opensslEchoes(TcpServer server, java.nio.file.Path cert, java.nio.file.Path key)
            throws Exception {
        Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + server.address().getPort(),
                "-CAfile", certs.caCert.toString(), "-cert", cert.toString(), "-key", key.toString(),
                "-quiet", "-no_ign_eof", "-nocommands").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(20))) {
            byte[] frame = Echo.frame("mutual".getBytes());
            byte[] echoed;
            try {
                p.getOutputStream().write(frame);
                p.getOutputStream().flush();
                echoed = p.getInputStream().readNBytes(frame.length); // short when the server refuses
            } catch (IOException e) {
                echoed = new byte[0]; // s_client went away while we wrote
            }
            watchdog.assertNotFired("the echo"); // neither refused nor echoed: the server hung
            try {
                p.getOutputStream().close();
            } catch (IOException e) {
                // s_client is gone already
            }
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("s_client exits").isTrue();
            return java.util.Arrays.equals(echoed, frame);
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
