package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SilentListener;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestNames;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLHandshakeException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reconnecting client over TLS, against stcp TLS servers on loopback (TCP and a Unix socket):
 * 4-byte length-prefixed frames, echoed. The test CA signed the server's certificate, for
 * {@code localhost} and 127.0.0.1.
 */
class TcpClientTlsTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static TestCerts certs;

    @TempDir
    Path dir;

    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    private final List<TcpServer> servers = new ArrayList<>();
    private TcpClient client;

    private final ConnectionReader collect = (sender, conn) -> received.add(new String(conn.readBytes(conn.readInt()), UTF_8));

    @BeforeAll
    static void certificates() {
        certs = TestCerts.get();
    }

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    private TcpServer tlsServer(String address, TlsConfig tls, ConnectionHook onStart, ConnectionHook onExit)
            throws Exception {
        TcpServer s = TcpServer.create(ServerConfig.builder().address(address).tls(tls).build(), Echo.READER,
                        SenderFactory.queue(1024))
                .onConnectionStart(onStart)
                .onConnectionExit(onExit)
                .start();
        servers.add(s);
        return s;
    }

    private TcpServer tlsServer(String address, TlsConfig tls) throws Exception {
        return tlsServer(address, tls, s -> {}, s -> {});
    }

    private static TlsConfig serverTls() throws Exception {
        return TlsConfig.builder().pem(certs.serverCert, certs.serverKey).applicationProtocols("echo/1").build();
    }

    private static TlsConfig.Builder trustingTheTestCa() {
        return TlsConfig.clientBuilder().trustPem(certs.caCert);
    }

    private static ClientConfig.Builder fastReconnect(String address) {
        return ClientConfig.builder(address).reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50));
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    private String next() throws InterruptedException {
        String s = received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(s).as("a frame within %s", WAIT).isNotNull();
        return s;
    }

    /**
     * A connect hook that throws a ProtocolException ends its connection as a reader that threw
     * would: gracefully, with close_notify, so the server reads an orderly end (PEER_CLOSED). (It
     * was ended at once, and the server saw a truncated stream, PEER_RESET.)
     */
    @Test
    void aConnectHookThatThrowsClosesWithCloseNotify() throws Exception {
        BlockingQueue<CloseReason> serverExits = new LinkedBlockingQueue<>();
        TcpServer server = tlsServer("127.0.0.1:0", serverTls(), s -> {}, s -> serverExits.add(s.connection().closeReason()));
        client = TcpClient.create(fastReconnect("localhost:" + server.address().getPort())
                                .tls(trustingTheTestCa().build()).maxAttempts(1).build(),
                        collect, SenderFactory.queue(64))
                .onConnect(s -> {
                    s.put(frame("login"));
                    Connection c = s.connection();
                    throw new ProtocolException("login refused: " + new String(c.readBytes(c.readInt()), UTF_8));
                })
                .start();
        assertThat(client.awaitTermination(WAIT)).isTrue(); // gave up after its one attempt
        assertThat(serverExits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
    }

    /**
     * A shutdown while the login waits for an answer that never comes closes the TLS connection
     * under the hook at once, gracefully: close_notify, so the server reads an orderly end
     * (PEER_CLOSED), and the client's connection ends SHUTDOWN. (The shutdown waited its whole
     * grace, then closed by force and returned false.)
     */
    @Test
    void aShutdownWhileTheLoginWaitsForItsAnswerClosesAtOnceWithCloseNotify() throws Exception {
        BlockingQueue<CloseReason> serverExits = new LinkedBlockingQueue<>();
        BlockingQueue<CloseReason> clientExits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").tls(serverTls()).build(),
                        collect, SenderFactory.queue(64)) // takes the login, never answers
                .onConnectionExit(s -> serverExits.add(s.connection().closeReason()))
                .start();
        servers.add(server);
        client = loggingIn(server, clientExits);
        assertThat(next()).isEqualTo("login");
        long began = System.nanoTime();
        assertThat(client.shutdown(WAIT)).as("the login was written, nothing lost").isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(WAIT.dividedBy(2));
        assertThat(clientExits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.SHUTDOWN);
        assertThat(serverExits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
        assertThat(client.connectCount()).isZero();
    }

    /**
     * A close while the TLS login waits for its answer ends the hook's read under the TLS layer:
     * the close's doing, logged at DEBUG (CLOSED), not a failure of the hook's.
     */
    @Test
    void aCloseWhileTheTlsLoginWaitsForItsAnswerIsNoFailureOfTheHook() throws Exception {
        BlockingQueue<CloseReason> clientExits = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(ServerConfig.builder().address("127.0.0.1:0").tls(serverTls()).build(),
                        collect, SenderFactory.queue(64)) // takes the login, never answers
                .start();
        servers.add(server);
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client = loggingIn(server, clientExits);
            assertThat(next()).isEqualTo("login");
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
            assertThat(clientExits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.CLOSED);
            assertThat(logs.events("conn.hook.failed")).singleElement()
                    .satisfies(e -> assertThat(e.getLevel()).hasToString("DEBUG"));
        }
    }

    /** A TLS client whose connect hook logs in and waits for the answer; its ends go to {@code exits}. */
    private TcpClient loggingIn(TcpServer server, BlockingQueue<CloseReason> exits) throws Exception {
        return TcpClient.create(ClientConfig.builder("localhost:" + server.address().getPort())
                                .tls(trustingTheTestCa().build()).build(),
                        collect, SenderFactory.queue(64))
                .onConnect(s -> {
                    s.put(frame("login"));
                    Connection c = s.connection();
                    c.readBytes(c.readInt()); // the answer
                })
                .onDisconnect((s, reason) -> exits.add(reason))
                .start();
    }

    @Test
    void echoesOverTlsWithTheSessionOnTheConnectionAndClosesWithCloseNotify() throws Exception {
        BlockingQueue<TlsInfo> serverSide = new LinkedBlockingQueue<>();
        BlockingQueue<CloseReason> serverExits = new LinkedBlockingQueue<>();
        TcpServer server = tlsServer("127.0.0.1:0", serverTls(), s -> serverSide.add(s.connection().tls().orElseThrow()),
                s -> serverExits.add(s.connection().closeReason()));
        TlsConfig tls = trustingTheTestCa().applicationProtocols("echo/1").build();
        AtomicReference<TlsInfo> atConnect = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("localhost:" + server.address().getPort()).tls(tls).build(),
                        collect, SenderFactory.queue(64))
                .onConnect(s -> {
                    atConnect.set(s.connection().tls().orElse(null)); // settled before the connect hook runs
                    s.put(frame("hello"));
                })
                .start();
        assertThat(next()).isEqualTo("hello");
        client.put(frame("over tls"));
        assertThat(next()).isEqualTo("over tls");

        TlsInfo info = atConnect.get();
        assertThat(info).isNotNull();
        assertThat(info.protocol()).isEqualTo("TLSv1.3");
        assertThat(info.applicationProtocol()).isEqualTo("echo/1");
        assertThat(info.peerCertificates().get(0).getSubjectX500Principal().getName()).isEqualTo("CN=localhost");
        assertThat(client.awaitConnected(WAIT)).isTrue(); // an echo may come before the client is up (its backlog first)
        assertThat(client.sender().connection().tls()).contains(info);
        TlsInfo server1 = serverSide.poll(10, TimeUnit.SECONDS);
        assertThat(server1).isNotNull();
        assertThat(server1.serverName()).as("SNI: the host dialled").isEqualTo("localhost");
        assertThat(tls.handshakes()).isOne();
        assertThat(tls.handshakeFailures()).isZero();

        // A graceful close: close_notify, so the server reads an orderly end, not a truncated stream (PEER_RESET).
        assertThat(client.shutdown(WAIT)).isTrue();
        assertThat(serverExits.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
    }

    /**
     * A server that says nothing after the handshake until asked: over TLS 1.2 the handshake's last
     * record is the server's, so nothing more arrives (TLS 1.3 sends a session ticket after it). The
     * client is up, its puts taken, without a connect hook and before any byte from the server.
     */
    @Test
    void isUpBeforeTheServerSaysAnythingAfterTheHandshake() throws Exception {
        TcpServer server = tlsServer("127.0.0.1:0",
                TlsConfig.builder().pem(certs.serverCert, certs.serverKey).protocols("TLSv1.2").build());
        client = TcpClient.create(ClientConfig.builder("localhost:" + server.address().getPort())
                        .tls(trustingTheTestCa().build()).build(), collect, SenderFactory.queue(64))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        Awaitility.await().atMost(WAIT).ignoreExceptionsInstanceOf(NotConnectedException.class)
                .until(() -> client.sender().connection().tls().orElseThrow().protocol().equals("TLSv1.2"));
        client.put(frame("first"));
        assertThat(next()).isEqualTo("first");
    }

    /**
     * A TLS client dials as a plain one does (Happy Eyeballs): a first address that drops SYNs
     * costs it the connection attempt delay (100 ms), not its share of the connect timeout (15 s
     * of 30), then it handshakes with the second.
     */
    @Test
    void aFirstAddressThatDropsSynsCostsTheConnectionAttemptDelayNotItsShare() throws Exception {
        int port = tlsServer("127.0.0.1:0", serverTls()).address().getPort();
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.2", port))) {
            String host = TestNames.define("tls-first-drops-syns.stcp.test", "127.0.0.2", "127.0.0.1");
            long start = System.nanoTime();
            client = TcpClient.create(fastReconnect(host + ":" + port).connectTimeout(Duration.ofSeconds(30))
                            .connectionAttemptDelay(Duration.ofMillis(100)).maxAttempts(1)
                            .tls(trustingTheTestCa().serverName("localhost").build()).build(), collect, SenderFactory.queue(8))
                    .start();
            assertThat(client.awaitConnected(WAIT)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the attempt delay and a handshake, not 15 s")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(100)).isLessThan(Duration.ofSeconds(5));
            client.put(frame("over tls"));
            assertThat(next()).isEqualTo("over tls");
        }
    }

    @Test
    void aCertificateForAnotherNameIsRefusedRetriedWithBackOffAndNeverConnects() throws Exception {
        TcpServer server = tlsServer("127.0.0.1:0", serverTls());
        TlsConfig tls = trustingTheTestCa().serverName("wrong.example").build();
        AtomicInteger connects = new AtomicInteger();
        AtomicReference<Throwable> last = new AtomicReference<>();
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            client = TcpClient.create(fastReconnect("127.0.0.1:" + server.address().getPort()).maxAttempts(3).tls(tls)
                            .build(), collect, SenderFactory.queue(8))
                    .onConnect(s -> connects.incrementAndGet())
                    .onGiveUp((n, failure) -> last.set(failure))
                    .start();
            assertThat(client.awaitTermination(WAIT)).isTrue();
            assertThat(connects).as("the connect hook never ran").hasValue(0);
            assertThat(client.connectCount()).isZero();
            assertThat(last.get()).isInstanceOf(SSLHandshakeException.class).hasMessageContaining("for another name")
                    .hasMessageContaining("wrong.example");
            assertThatThrownBy(() -> client.termination().get()).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(ConnectException.class).hasMessageContaining("after 3 failed attempts");
            assertThat(tls.handshakeFailures()).as("counted").isEqualTo(3);
            assertThat(tls.handshakes()).isZero();
            List<ILoggingEvent> failed = logs.events("client.connect.failed");
            assertThat(failed).as("one WARN line per 10 s").hasSize(1);
            assertThat(failed.get(0).getLevel().toString()).isEqualTo("WARN");
            assertThat(LogCapture.fields(failed.get(0)).get("error").toString()).contains("TLS handshake failed");
        }
    }

    @Test
    void byDefaultOnlyTheJdksCasAreTrustedNotTheTestCa() throws Exception {
        TcpServer server = tlsServer("127.0.0.1:0", serverTls());
        TlsConfig tls = TlsConfig.clientBuilder().build();
        AtomicReference<Throwable> last = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("localhost:" + server.address().getPort()).maxAttempts(1).tls(tls)
                        .build(), collect, SenderFactory.queue(8))
                .onGiveUp((n, failure) -> last.set(failure))
                .start();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThat(client.connectCount()).isZero();
        assertThat(last.get()).isInstanceOf(SSLHandshakeException.class).hasMessageContaining("not from a trusted CA");
    }

    @Test
    void presentsItsCertificateForMutualTls() throws Exception {
        BlockingQueue<TlsInfo> serverSide = new LinkedBlockingQueue<>();
        TlsConfig serverTls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey).trustPem(certs.caCert)
                .clientAuth(TlsConfig.ClientAuth.REQUIRED).build();
        TcpServer server = tlsServer("127.0.0.1:0", serverTls, s -> serverSide.add(s.connection().tls().orElseThrow()),
                s -> {});
        TlsConfig tls = trustingTheTestCa().pem(certs.clientCert, certs.clientKey).build();
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort()).tls(tls).build(),
                collect, SenderFactory.queue(8)).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("mutual"));
        assertThat(next()).isEqualTo("mutual");
        TlsInfo seen = serverSide.poll(10, TimeUnit.SECONDS);
        assertThat(seen).isNotNull();
        assertThat(seen.peerCertificates().get(0).getSubjectX500Principal().getName()).isEqualTo("CN=stcp test client");
        assertThat(serverTls.handshakeFailures()).isZero();
    }

    /**
     * Under TLS 1.3 a server that requires a client certificate refuses its absence after the
     * client's side of the handshake: each connection comes up on the client, then ends at the
     * server's alert, before the server sent anything. Failed attempts all the same: the client
     * gives up after maxAttempts (it went on for ever, logging at DEBUG only).
     */
    @Test
    void aClientCertificateRefusedAfterATls13HandshakeIsAFailedAttempt() throws Exception {
        TlsConfig serverTls = TlsConfig.builder().pem(certs.serverCert, certs.serverKey).trustPem(certs.caCert)
                .clientAuth(TlsConfig.ClientAuth.REQUIRED).build();
        TcpServer server = tlsServer("127.0.0.1:0", serverTls);
        TlsConfig tls = trustingTheTestCa().build(); // no certificate of its own
        AtomicInteger attempts = new AtomicInteger();
        AtomicReference<Throwable> last = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                        .reconnectDelay(Duration.ofMillis(1)).reconnectMaxDelay(Duration.ofSeconds(10)).maxAttempts(2).tls(tls)
                        .build(), collect, SenderFactory.queue(8))
                .onGiveUp((n, failure) -> {
                    attempts.set(n);
                    last.set(failure);
                })
                .start();
        assertThat(client.awaitTermination(WAIT)).as("gave up").isTrue();
        assertThat(attempts).hasValue(2);
        assertThat(last.get()).hasMessageContaining("before the server sent anything");
        assertThat(serverTls.handshakeFailures()).as("refused by the server").isGreaterThanOrEqualTo(2);
    }

    /**
     * A client without TLS dialling a TLS port: the server answers its plain text with an alert (7
     * bytes) and closes. The client's reader takes the alert's first bytes for a frame's header and
     * finds no whole message: failed attempts, given up after maxAttempts, as the README promises
     * ("expecting … TLS the client does not send"). Counted as served because bytes had come, the
     * client dialled for ever, each attempt a WARN on both sides.
     */
    @Test
    void plainTextToATlsPortIsAFailedAttemptThoughTheServerAnswersWithAnAlert() throws Exception {
        TlsConfig serverTls = serverTls();
        TcpServer server = tlsServer("127.0.0.1:0", serverTls);
        AtomicInteger attempts = new AtomicInteger();
        AtomicReference<Throwable> last = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                        .reconnectDelay(Duration.ofMillis(1)).reconnectMaxDelay(Duration.ofSeconds(10)).maxAttempts(2)
                        .build(), collect, SenderFactory.queue(8))
                .onConnect(s -> s.put(frame("hello"))) // plain text: the server's handshake fails on it
                .onGiveUp((n, failure) -> {
                    attempts.set(n);
                    last.set(failure);
                })
                .start();
        assertThat(client.awaitTermination(WAIT)).as("gave up").isTrue();
        assertThat(attempts).hasValue(2);
        // The alert's first four bytes, read as a length, are 352,518,912: beyond the client's inbound
        // budget (a quarter of the heap) the connection fails on them at once; within it, at the
        // alert's end.
        assertThat(last.get().getMessage())
                .containsPattern("before its reader took a whole message from the server \\(it read [47] bytes\\)");
        assertThat(serverTls.handshakeFailures()).as("not TLS, to the server").isGreaterThanOrEqualTo(2);
    }

    @Test
    void reconnectsOverTlsWhenTheServerIsRestartedOnTheSamePort() throws Exception {
        TcpServer first = tlsServer("127.0.0.1:0", serverTls());
        int port = first.address().getPort();
        BlockingQueue<CloseReason> disconnects = new LinkedBlockingQueue<>();
        TlsConfig tls = trustingTheTestCa().build();
        client = TcpClient.create(fastReconnect("localhost:" + port).tls(tls).build(), collect, SenderFactory.queue(64))
                .onDisconnect((s, reason) -> disconnects.add(reason))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("before"));
        assertThat(next()).isEqualTo("before");

        Echo.stop(first);
        servers.remove(first);
        assertThat(disconnects.poll(10, TimeUnit.SECONDS)).isNotNull();

        tlsServer("127.0.0.1:" + port, serverTls());
        Awaitility.await().atMost(WAIT).until(() -> client.connectCount() == 2 && client.isConnected());
        client.put(frame("after"));
        assertThat(next()).isEqualTo("after");
        assertThat(tls.handshakes()).isEqualTo(2);
        assertThat(client.sender().connection().tls()).isPresent();
    }

    @Test
    void speaksTlsOverAUnixSocketCheckingTheServerNameItIsGiven() throws Exception {
        Path path = dir.resolve("tls.sock");
        tlsServer("unix:" + path, serverTls());
        TlsConfig tls = trustingTheTestCa().serverName("localhost").build();
        client = TcpClient.create(ClientConfig.builder("unix:" + path).tls(tls).build(), collect, SenderFactory.queue(8))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("unix and tls"));
        assertThat(next()).isEqualTo("unix and tls");
        assertThat(client.sender().connection().tls()).isPresent();
    }

    @Test
    void settingsThatCannotWorkAreRefusedNamingTheSetting() throws Exception {
        TlsConfig server = serverTls();
        TlsConfig clientTls = trustingTheTestCa().build();
        assertThatThrownBy(() -> ClientConfig.builder("h:1").tls(server).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tls: a server's TlsConfig");
        assertThatThrownBy(() -> ServerConfig.builder().address(":0").tls(clientTls).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tls: a client's TlsConfig");
        assertThatThrownBy(() -> ClientConfig.builder("unix:/tmp/x.sock").tls(clientTls).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tls: no serverName");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().clientAuth(TlsConfig.ClientAuth.REQUIRED).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("clientAuth: REQUIRED on a client");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().watch(Duration.ofSeconds(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("watch");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().serverName("not a host!").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("serverName");
        assertThatThrownBy(() -> TlsConfig.builder().pem(certs.serverCert, certs.serverKey).serverName("x").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("serverName: \"x\" on a server");
        assertThatThrownBy(() -> TlsConfig.clientBuilder().pem(certs.clientCert, certs.clientKey)
                .sslContext(certs.clientContext()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("more than one key source");

        assertThat(clientTls.isClient()).isTrue();
        assertThat(server.isClient()).isFalse();
        ClientConfig c = ClientConfig.builder("unix:/tmp/x.sock").tls(trustingTheTestCa().serverName("app.internal").build())
                .build();
        assertThat(c.toBuilder().build()).isEqualTo(c);
        assertThat(c.tls().serverName()).isEqualTo("app.internal");
    }

    @Test
    void aHostNameTlsCannotCheckIsRefusedWhenTheConfigIsBuiltNotAtEveryAttempt() throws Exception {
        TlsConfig tls = trustingTheTestCa().build();
        // A name with '_' (a Docker Compose service, say) resolves, but SNI cannot carry it and the JDK cannot check it.
        assertThatThrownBy(() -> ClientConfig.builder("my_service:9443").tls(tls).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("my_service")
                .hasMessageContaining("serverName");
        assertThat(ClientConfig.builder("my_service:9443").tls(trustingTheTestCa().serverName("app.internal").build())
                .build().address()).isEqualTo("my_service:9443");
        assertThat(ClientConfig.builder("my_service:9443").build().address()).isEqualTo("my_service:9443"); // plain TCP: fine
        assertThat(TlsConfig.clientBuilder().serverName("app.internal.").build().serverName()).isEqualTo("app.internal.");
    }
}
