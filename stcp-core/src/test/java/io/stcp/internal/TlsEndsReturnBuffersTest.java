package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.TlsConfig;
import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestClient;
import io.stcp.testing.TlsClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.assertj.core.api.SoftAssertions;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every end of a TLS connection, over real sockets, gives back to {@link TlsBuffers} each buffer
 * it took, once: handshakes that fail in each way there is — not TLS, no common version, a client
 * certificate missing or expired, the peer's reset inside the hello, the handshake timeout — and
 * connections that ended after theirs. Each case runs alone on the server and waits for its
 * connection's slot to be freed (the end's last step); the buffers taken then and not given back
 * must be as many as before it began: fewer would be a buffer given twice, more one dropped. Before,
 * a failed handshake's buffers, and those a connection held at its end (on the JDK's transport the
 * reader's, which its blocked read keeps), were left to the garbage collector.
 */
class TlsEndsReturnBuffersTest {
    private static TestCerts certs;
    private final SoftAssertions softly = new SoftAssertions();
    private TlsConfig tls;
    private TcpServer server;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    /** A TLS 1.3 echo server that requires client certificates, with {@code handshakeTimeout}. */
    private void start(Duration handshakeTimeout) throws Exception {
        tls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey).trustPem(certs.caCert)
                .clientAuth(TlsConfig.ClientAuth.REQUIRED).protocols("TLSv1.3")
                .handshakeTimeout(handshakeTimeout).build();
        server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(16)).start();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (server != null) {
                Echo.stop(server);
            }
        } finally {
            softly.assertAll();
        }
    }

    /** A peer's part in a case: what it does to its connection until the server ends it. */
    private interface Peer {
        void run() throws Exception;
    }

    /** Runs {@code peer} and checks, once its connection has ended, that the pool has back all it lent. */
    private void returnsEveryBuffer(String kind, Peer peer) throws Exception {
        soon().until(() -> server.connectionCount() == 0);
        long taken = TlsBuffers.takenCount();
        long lent = lent();
        peer.run();
        soon().until(() -> server.connectionCount() == 0);
        assertThat(TlsBuffers.takenCount()).as("%s: the connection took buffers", kind).isGreaterThan(taken);
        // Soft: a failure names every case that did not give its buffers back, not the first only.
        softly.assertThat(lent()).as("%s: buffers lent and not given back (before: %d)", kind, lent).isEqualTo(lent);
    }

    /** Polls from the start, and often: the cases are short. */
    private static ConditionFactory soon() {
        return await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).atMost(Duration.ofSeconds(10));
    }

    private static long lent() {
        return TlsBuffers.takenCount() - TlsBuffers.givenCount();
    }

    @Test
    void aFailedHandshakeGivesBackItsBuffersWhateverTheFailure() throws Exception {
        start(Duration.ofSeconds(10));
        long failures = tls.handshakeFailures();
        returnsEveryBuffer("not TLS", () -> {
            try (TestClient c = TestClient.connect(server.address())) {
                c.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(c.awaitClosedByServer()).isTrue();
            }
        });
        returnsEveryBuffer("no common version", () -> assertThatThrownBy(
                () -> TlsClient.connect(server.address(), withCertificate(), "TLSv1.2").close())
                .isInstanceOf(IOException.class));
        returnsEveryBuffer("no client certificate", () -> refused(certs.clientContext()));
        returnsEveryBuffer("an expired client certificate",
                () -> refused(certs.clientContext(certs.expiredClientCert, certs.expiredClientKey)));
        assertThat(tls.handshakeFailures()).as("each of them a failed handshake").isEqualTo(failures + 4);
        returnsEveryBuffer("a reset inside the hello", () -> {
            long taken = TlsBuffers.takenCount();
            try (TestClient c = TestClient.connect(server.address())) {
                byte[] hello = certs.clientHello();
                c.sendRaw(Arrays.copyOf(hello, hello.length / 2));
                soon().until(() -> TlsBuffers.takenCount() > taken); // being read
                c.socket().setSoLinger(true, 0); // close with RST
            }
        });
    }

    @Test
    void aHandshakeTimeoutGivesBackItsBuffers() throws Exception {
        start(Duration.ofMillis(200));
        returnsEveryBuffer("the handshake timeout", () -> {
            try (TestClient c = TestClient.connect(server.address())) {
                byte[] hello = certs.clientHello();
                c.sendRaw(Arrays.copyOf(hello, hello.length / 2));
                assertThat(c.awaitClosedByServer()).isTrue();
            }
        });
        assertThat(tls.handshakeFailures()).isEqualTo(1);
    }

    @Test
    void anEstablishedConnectionGivesBackItsBuffersHoweverItEnds() throws Exception {
        start(Duration.ofSeconds(10));
        returnsEveryBuffer("the client's close_notify", () -> {
            try (TlsClient c = TlsClient.connect(server.address(), withCertificate())) {
                assertThat(c.roundTrip(new byte[] {1, 2, 3})).containsExactly(1, 2, 3);
            }
        });
        returnsEveryBuffer("the end of stream inside a record", () -> {
            try (Socket plain = new Socket()) {
                echoOverTls(plain, (byte) 4);
                // The first bytes of an application data record announcing 100 bytes, then the FIN.
                plain.getOutputStream().write(new byte[] {23, 3, 3, 0, 100, 1, 2, 3});
                plain.shutdownOutput();
                assertThat(closedByTheServer(plain)).isTrue();
            }
        });
    }

    @Test
    void aReadAfterTheEndTakesNoBufferAgain() throws Exception {
        // An exit hook runs on the last reader thread after the end gave the buffers back; a read
        // there fails, and must not take a buffer that nothing would give back.
        start(Duration.ofSeconds(10));
        server.onConnectionExit(s -> {
            try {
                s.connection().read(new byte[16], 0, 16);
            } catch (IOException expected) {
                // the connection is closed
            }
        });
        returnsEveryBuffer("a read in the exit hook", () -> {
            try (Socket plain = new Socket()) {
                echoOverTls(plain, (byte) 5);
                plain.shutdownOutput(); // no close_notify: the server's read fails, its input not closed
                assertThat(closedByTheServer(plain)).isTrue();
            }
        });
    }

    /**
     * Connects {@code plain} to the server and echoes the one-byte frame {@code b} over a TLS
     * session on it, which is left open: the test goes on with {@code plain} underneath.
     */
    private void echoOverTls(Socket plain, byte b) throws Exception {
        plain.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 10_000);
        plain.setSoTimeout(10_000);
        SSLSocket s = (SSLSocket) withCertificate().getSocketFactory()
                .createSocket(plain, "localhost", server.address().getPort(), false);
        s.startHandshake();
        s.getOutputStream().write(Echo.frame(new byte[] {b}));
        assertThat(s.getInputStream().readNBytes(5)).containsExactly(0, 0, 0, 1, b);
    }

    /** Reads until the server closes (end of stream or reset); false if it has not within the socket's timeout. */
    private static boolean closedByTheServer(Socket socket) throws IOException {
        byte[] sink = new byte[1024];
        try {
            while (socket.getInputStream().read(sink) >= 0) {
                // an alert, maybe
            }
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }

    private static SSLContext withCertificate() throws Exception {
        return certs.clientContext(certs.clientCert, certs.clientKey);
    }

    /** TLS 1.3 lets the client finish first: the refusal may come as the handshake's failure or the first read's. */
    private void refused(SSLContext context) {
        assertThatThrownBy(() -> {
            try (TlsClient client = TlsClient.connect(server.address(), context)) {
                client.roundTrip(new byte[] {1});
            }
        }).isInstanceOf(IOException.class);
    }
}
