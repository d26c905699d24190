package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate hot reload: new handshakes get the new certificate, live connections keep their
 * session; by API call, and by the opt-in file watch, which survives a half-written update.
 */
class TlsReloadTest {
    private static TestCerts certs;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    private static String subjectSeenBy(TlsClient client) throws Exception {
        return ((X509Certificate) client.socket().getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }

    private static void copy(Path from, Path to) throws Exception {
        Path tmp = to.resolveSibling(to.getFileName() + ".tmp");
        Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Test
    void aReloadGivesNewConnectionsTheNewCertificateAndKeepsTheOldConnection(@TempDir Path dir) throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        copy(certs.serverCert, cert);
        copy(certs.serverKey, key);
        TlsConfig tls = TlsConfig.fromPem(cert, key);
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8)).start();
        try (TlsClient old = TlsClient.connect(server.address(), certs.clientContext())) {
            assertThat(old.roundTrip(new byte[] {1})).containsExactly(1);
            assertThat(subjectSeenBy(old)).isEqualTo("CN=localhost");

            copy(certs.server2Cert, cert);
            copy(certs.server2Key, key);
            tls.reload();
            assertThat(tls.reloads()).isEqualTo(1);

            assertThat(old.roundTrip(new byte[] {2})).containsExactly(2);
            try (TlsClient fresh = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(fresh.roundTrip(new byte[] {3})).containsExactly(3);
                assertThat(subjectSeenBy(fresh)).isEqualTo("CN=localhost reloaded");
            }
            assertThat(old.roundTrip(new byte[] {4})).containsExactly(4);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A watch interval too long to measure in nanoseconds (centuries: "never", in effect) is a
     * watch that never polls, as every other length of stcp too long to measure means no limit;
     * the server used to fail to start on it with an ArithmeticException (long overflow).
     */
    @Test
    void aWatchIntervalTooLongToMeasureStillStartsTheServer() throws Exception {
        TlsConfig tls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey)
                .watch(Duration.ofSeconds(Long.MAX_VALUE)).build();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8)).start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReloadFromAReadyContextSwapsItForNewHandshakes() throws Exception {
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        TlsConfig other = TlsConfig.fromPem(certs.server2Cert, certs.server2Key);
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8)).start();
        try {
            tls.reload(other.sslContext());
            try (TlsClient fresh = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(subjectSeenBy(fresh)).isEqualTo("CN=localhost reloaded");
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void theFileWatchReloadsChangedFilesAndWaitsOutAHalfWrittenUpdate(@TempDir Path dir) throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        copy(certs.serverCert, cert);
        copy(certs.serverKey, key);
        TlsConfig tls = TlsConfig.builder().pem(cert, key).watch(Duration.ofMillis(20)).build();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(8)).start();
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            // The certificate changes first: it does not match the key yet; the old material stays.
            copy(certs.server2Cert, cert);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !log.events("tls.reload.failed").isEmpty());
            assertThat(tls.reloads()).isZero();
            try (TlsClient during = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(subjectSeenBy(during)).isEqualTo("CN=localhost");
            }
            copy(certs.server2Key, key);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> tls.reloads() == 1);
            assertThat(log.events("tls.reload")).hasSize(1);
            try (TlsClient after = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(after.roundTrip(new byte[] {5})).containsExactly(5);
                assertThat(subjectSeenBy(after)).isEqualTo("CN=localhost reloaded");
            }
        } finally {
            Echo.stop(server); // ends the watch thread too: the leak check would fail otherwise
        }
    }
}
