package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestClient;
import io.stcp.testing.TlsClient;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Peers that attack or break the TLS layer: each costs its own connection only, with one WARN
 * line naming the reason and a count, while a well-behaved client on the same server goes on.
 */
class TlsHostilePeersTest {
    private static TestCerts certs;

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    /**
     * A TLS echo server and the {@code conn.exit} lines of its connections: a connection refused
     * by its handshake never had a sender, so no exit hook runs for it; its exit line tells why.
     */
    private static final class Server implements AutoCloseable {
        final TcpServer server;
        final TlsConfig tls;
        final LogCapture log = LogCapture.of("io.stcp.connection");
        private int seen;

        Server(ServerConfig.Builder config, TlsConfig.Builder tls) throws Exception {
            this.tls = tls.pem(certs.serverCert, certs.serverKey).build();
            this.server = TcpServer.create(config.tls(this.tls).build(), Echo.READER, SenderFactory.queue(64)).start();
        }

        TcpServer server() {
            return server;
        }

        TlsConfig tls() {
            return tls;
        }

        /** The reason on the next connection's exit line. */
        CloseReason nextEnd() {
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> log.events("conn.exit").size() > seen);
            return (CloseReason) LogCapture.fields(log.events("conn.exit").get(seen++)).get("reason");
        }

        /** A good client still gets its echo. */
        void stillServesAGoodClient() throws Exception {
            try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
                assertThat(client.roundTrip(new byte[] {7})).containsExactly(7);
            }
            nextEnd();
        }

        @Override
        public void close() throws Exception {
            try {
                Echo.stop(server);
            } finally {
                log.close();
            }
        }
    }

    private static Server start(ServerConfig.Builder config, TlsConfig.Builder tls) throws Exception {
        return new Server(config, tls);
    }

    /** The first flight of a real client: its ClientHello record. */
    private static byte[] clientHello() throws Exception {
        return certs.clientHello();
    }

    /** A TLS client socket to {@code server}, its handshake done, over a plain socket of {@link #connect}'s. */
    private static javax.net.ssl.SSLSocket tlsClient(Socket plain, TcpServer server) throws Exception {
        javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(plain, "localhost", server.address().getPort(), false);
        tls.startHandshake();
        return tls;
    }

    private static Socket connect(TcpServer server) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 10_000);
        s.setSoTimeout(10_000);
        return s;
    }

    @Test
    void plainTextSentToTheTlsPortIsRefusedWithOneWarnLineNamingTheReason() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            try (TestClient plain = TestClient.connect(s.server().address())) {
                plain.sendFrame("GET / HTTP/1.1\r\n\r\n".getBytes());
                assertThat(plain.awaitClosedByServer()).isTrue();
            }
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            List<ILoggingEvent> warns = s.log.events("conn.exit").stream()
                    .filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN).toList();
            assertThat(warns).hasSize(1);
            assertThat(warns.get(0).getThrowableProxy().getMessage()).contains("TLS handshake failed: not TLS");
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
            s.stillServesAGoodClient();
        }
    }

    @Test
    void aGarbageClientHelloIsRefusedAndCounted() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            byte[] hello = clientHello();
            for (int i = 9; i < hello.length; i++) {
                hello[i] = (byte) (i * 31); // a handshake record with a mangled body
            }
            try (Socket socket = connect(s.server())) {
                socket.getOutputStream().write(hello);
                assertThat(readToEnd(socket)).as("the alert, then the close").isGreaterThanOrEqualTo(0);
            }
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
            s.stillServesAGoodClient();
        }
    }

    /**
     * The JDK quotes a server name it cannot take in its message; a client that puts a line feed
     * in one wrote a line of its own into the server's log, through the exit line's exception
     * and its cause. Both now show it escaped.
     */
    @Test
    void aServerNameWithALineFeedWritesNoLineOfItsOwnIntoTheLog() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            javax.net.ssl.SSLEngine engine = certs.clientContext().createSSLEngine("localhost", 443);
            engine.setUseClientMode(true);
            javax.net.ssl.SSLParameters p = engine.getSSLParameters();
            p.setServerNames(List.of(new javax.net.ssl.SNIHostName("sni-forge.test")));
            engine.setSSLParameters(p);
            java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
            engine.wrap(java.nio.ByteBuffer.allocate(0), out);
            String hello = new String(out.array(), 0, out.position(), java.nio.charset.StandardCharsets.ISO_8859_1);
            assertThat(hello).contains("sni-forge.test");
            // as long as the name it replaces, so that every length in the hello still holds
            byte[] forged = hello.replace("sni-forge.test", "x\nFORGED line!").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
            try (Socket socket = connect(s.server())) {
                socket.getOutputStream().write(forged);
                assertThat(readToEnd(socket)).as("the alert, then the close").isGreaterThanOrEqualTo(0);
            }
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            ch.qos.logback.classic.spi.IThrowableProxy failure = s.log.events("conn.exit").get(0).getThrowableProxy();
            assertThat(failure.getMessage()).contains("Illegal server name").contains("x\\u000aFORGED line!")
                    .doesNotContain("\n");
            assertThat(failure.getCause().getMessage()).contains("x\\u000aFORGED line!").doesNotContain("\n");
            assertThat(failure.getCause().getStackTraceElementProxyArray()).as("the engine's stack, kept").isNotEmpty();
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
        }
    }

    @Test
    void aHandshakeTrickledByteByByteIsClosedAtTheFirstFrameTimeout() throws Exception {
        // Two seconds: long enough for the good client after it to shake hands on a loaded machine.
        try (Server s = start(Echo.loopback().firstFrameTimeout(Duration.ofSeconds(2)), TlsConfig.builder())) {
            byte[] hello = clientHello();
            assertThat(hello.length).as("a hello that takes longer to trickle than the bound below").isGreaterThan(200);
            CountDownLatch closed = new CountDownLatch(1);
            long start = System.nanoTime();
            try (Socket socket = connect(s.server())) {
                Thread trickle = Thread.ofVirtual().start(() -> {
                    try {
                        OutputStream out = socket.getOutputStream();
                        for (int i = 0; i < hello.length && !closed.await(50, TimeUnit.MILLISECONDS); i++) {
                            out.write(hello[i]); // one byte every 50 ms: the hello would take many seconds
                            out.flush();
                        }
                    } catch (Exception e) {
                        // the server hung up
                    }
                });
                assertThat(s.nextEnd()).isEqualTo(CloseReason.FRAME_TIMEOUT);
                closed.countDown();
                trickle.join();
            }
            assertThat(System.nanoTime() - start).isBetween(TimeUnit.SECONDS.toNanos(2), TimeUnit.SECONDS.toNanos(9));
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
            s.stillServesAGoodClient();
        }
    }

    @Test
    void aSilentPeerIsClosedByTheHandshakeTimeoutEvenWithoutAFirstFrameTimeout() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder().handshakeTimeout(Duration.ofMillis(400)))) {
            try (Socket socket = connect(s.server())) {
                assertThat(s.nextEnd()).isEqualTo(CloseReason.FRAME_TIMEOUT);
                assertThat(readToEnd(socket)).isGreaterThanOrEqualTo(0);
            }
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
        }
    }

    @Test
    void aPeerThatResetsMidHandshakeCostsOnlyItsConnection() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            byte[] hello = clientHello();
            try (Socket socket = connect(s.server())) {
                socket.getOutputStream().write(hello, 0, hello.length / 2);
                socket.getOutputStream().flush();
                Awaitility.await().until(() -> s.server().connectionCount() == 1);
                socket.setSoLinger(true, 0); // close with RST
            }
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PEER_RESET);
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
            s.stillServesAGoodClient();
        }
    }

    @Test
    void aPeerThatClosesBeforeSendingAnythingIsAnOrdinaryEndNotAFailure() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            try (Socket probe = connect(s.server())) { // a load balancer's TCP health check
                Awaitility.await().until(() -> s.server().connectionCount() == 1);
            }
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(s.tls().handshakeFailures()).isZero();
        }
    }

    /**
     * A TCP health check that closes with a reset, as HAProxy's layer-4 checks do (no TIME_WAIT on
     * the checker), began no handshake either: it is no failed handshake, as one that closes with a
     * FIN is not; it was counted as one, so stcp_tls_handshakes_total{result="failed"} rose at the
     * balancer's check rate and hid real failures (an expired certificate, a client without a
     * common protocol).
     */
    @Test
    void aPeerThatResetsBeforeSendingAnythingIsNotAFailedHandshake() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            for (int i = 0; i < 3; i++) {
                try (Socket probe = connect(s.server())) {
                    Awaitility.await().until(() -> s.server().connectionCount() == 1);
                    probe.setSoLinger(true, 0); // close with RST
                }
                assertThat(s.nextEnd()).isEqualTo(CloseReason.PEER_RESET);
                Awaitility.await().until(() -> s.server().connectionCount() == 0);
            }
            assertThat(s.tls().handshakeFailures()).isZero();
            assertThat(s.server().stats().tlsHandshakeFailures()).isZero();
            s.stillServesAGoodClient();
            assertThat(s.tls().handshakes()).isEqualTo(1);
        }
    }

    /**
     * A peer that stops reading mid-write is closed at the write timeout, and the write counts as
     * written only the records the socket took whole: the peer, reading everything once the server
     * has closed, gets exactly the bytes the server counts sent. The records wrapped for the write
     * that failed were counted too, up to four records' worth (64 KiB) more than the socket took.
     */
    @Test
    void aPeerThatStopsReadingMidWriteIsClosedAtTheWriteTimeoutAndOnlyWhatTheSocketTookIsCounted() throws Exception {
        byte[] megabyte = new byte[1 << 20];
        ConnectionReader flood = (sender, conn) -> {
            conn.readInt();
            for (int i = 0; i < 32; i++) {
                sender.put(megabyte); // far more than the socket buffers hold
            }
        };
        TlsConfig tls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        BlockingQueue<CloseReason> ends = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofMillis(400)).tls(tls).build(), flood,
                        QueueSender.options().capacity(128).maxBytes(0)::build)
                .onConnectionExit(s -> ends.add(s.connection().closeReason())).start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
            client.sendFrame(new byte[0]);
            assertThat(ends.poll(20, TimeUnit.SECONDS)).isEqualTo(CloseReason.WRITE_TIMEOUT);
            client.socket().setSoTimeout(10_000);
            java.io.InputStream in = client.socket().getInputStream();
            byte[] buf = new byte[64 << 10];
            long received = 0;
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    received += n;
                }
            } catch (java.io.IOException e) {
                // the end of a record cut short, or of the stream without close_notify: all that came whole is counted
            }
            ServerStats s = server.stats();
            assertThat(received).as("received").isGreaterThan(0).isLessThan(32L << 20);
            assertThat(s.bytesOut()).as("counted sent").isEqualTo(received);
            assertThat(s.messagesOut()).as("messages written").isEqualTo(received >> 20);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aStreamEndedWithoutCloseNotifyIsReportedAsTruncated() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder())) {
            Socket plain = connect(s.server());
            try (plain) {
                javax.net.ssl.SSLSocket tls = tlsClient(plain, s.server());
                java.io.DataOutputStream out = new java.io.DataOutputStream(tls.getOutputStream());
                out.writeInt(3);
                out.write(new byte[] {1, 2, 3});
                out.flush();
                java.io.DataInputStream in = new java.io.DataInputStream(tls.getInputStream());
                assertThat(in.readInt()).isEqualTo(3);
                in.readFully(new byte[3]);
                plain.shutdownOutput(); // FIN, no close_notify
                assertThat(s.nextEnd()).isEqualTo(CloseReason.PEER_RESET);
                assertThat(LogCapture.fields(s.log.events("conn.exit").get(0)).get("error").toString())
                        .contains(TlsTruncatedException.class.getName(), "without TLS close_notify");
            }
        }
    }

    /**
     * Records that decrypt to nothing cost the server a key derivation each for 22 bytes of the
     * peer's and give its reader nothing to read: a stream of them ends the connection, a few
     * between data do not. (The JDK's socket sends a TLS 1.3 key update at each
     * {@code startHandshake()} after the handshake.)
     */
    @Test
    void aStreamOfKeyUpdatesWithoutDataEndsTheConnection() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder().protocols("TLSv1.3"))) {
            Socket plain = connect(s.server());
            try (plain) {
                javax.net.ssl.SSLSocket tls = tlsClient(plain, s.server());
                java.io.DataOutputStream out = new java.io.DataOutputStream(tls.getOutputStream());
                java.io.DataInputStream in = new java.io.DataInputStream(tls.getInputStream());
                for (int round = 0; round < 5; round++) { // a few key updates between frames: served
                    for (int i = 0; i < 20; i++) {
                        tls.startHandshake();
                    }
                    out.write(Echo.frame(new byte[] {(byte) round}));
                    out.flush();
                    assertThat(in.readInt()).isEqualTo(1);
                    assertThat(in.readByte()).isEqualTo((byte) round);
                }
                try {
                    for (int i = 0; i < 10_000; i++) { // bounded: the server ends it after a few dozen
                        tls.startHandshake();
                    }
                } catch (IOException closedByTheServer) {
                    // what a peer sees once the server has closed
                }
                assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(s.log.events("conn.exit").get(0).getThrowableProxy().getMessage())
                        .contains("without application data");
            }
            s.stillServesAGoodClient();
        }
    }

    /**
     * TLS 1.2 renegotiation is refused, as the README says: a client that asks for it (the JDK's
     * socket does at a second {@code startHandshake()}) has its connection ended as
     * {@link CloseReason#PROTOCOL_ERROR}, naming it; the server goes on.
     */
    @Test
    void aTls12RenegotiationEndsTheConnectionAsAProtocolError() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder().protocols("TLSv1.2"))) {
            try (TlsClient client = TlsClient.connect(s.server().address(), certs.clientContext(), "TLSv1.2")) {
                assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
                try {
                    client.socket().startHandshake(); // its ClientHello goes out now; the rest comes on reads
                    client.sendFrame(new byte[] {2});
                    client.readFrame();
                } catch (IOException closedByTheServer) {
                    // what a peer sees once the server has closed
                }
                assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(s.log.events("conn.exit").get(0).getThrowableProxy().getMessage()).contains("renegotiation");
            }
            s.stillServesAGoodClient();
        }
    }

    @Test
    void aClientThatOffersOnlyTls12IsRefusedByATls13OnlyServer() throws Exception {
        try (Server s = start(Echo.loopback(), TlsConfig.builder().protocols("TLSv1.3"))) {
            assertThatThrownBy(() -> TlsClient.connect(s.server().address(), certs.clientContext(), "TLSv1.2"))
                    .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
            assertThat(s.nextEnd()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(s.tls().handshakeFailures()).isEqualTo(1);
            s.stillServesAGoodClient();
        }
    }

    /** Reads until the server closes (end of stream or reset); returns the bytes read (an alert). */
    private static int readToEnd(Socket socket) throws IOException {
        int total = 0;
        try {
            byte[] b = new byte[1024];
            for (int n; (n = socket.getInputStream().read(b)) >= 0; ) {
                total += n;
            }
            return total;
        } catch (java.net.SocketException reset) {
            return total; // a reset also ends it
        }
    }
}
