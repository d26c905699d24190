package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * A peer that sends TLS 1.3 key updates over a long connection's life, data between them, is
 * served for as long as it likes, on either side: records without data are limited to what the
 * records with data refill, not to a total over the connection's life. Before, the 6,092nd key
 * update (the JDK's socket sends each in a 43-byte record: 256 KiB in all) ended the connection as
 * PROTOCOL_ERROR, however much data had come between. (The JDK's socket sends a key update at each
 * {@code startHandshake()} after a TLS 1.3 handshake.)
 */
class TlsKeyUpdatesOverALifeTest {
    private static final int ROUNDS = 8_000; // a key update and 32 bytes of data each: 344,000 bytes of key updates
    private static final int DATA = 32;

    @Test
    void aClientThatUpdatesItsKeysBetweenFramesIsServedToTheEnd() throws Exception {
        TestCerts certs = TestCerts.get();
        CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.builder().pem(certs.serverCert, certs.serverKey)
                                .protocols("TLSv1.3").build()).build(), Echo.READER, SenderFactory.queue(64))
                .onConnectionExit(s -> ended.complete(s.connection().closeReason()))
                .start();
        try (TlsClient client = TlsClient.connect(server.address(), certs.clientContext(), "TLSv1.3")) {
            byte[] payload = new byte[DATA];
            for (int i = 0; i < ROUNDS; i++) {
                client.socket().startHandshake(); // a key update
                Arrays.fill(payload, (byte) i);
                assertThat(client.roundTrip(payload)).as("echo %d", i).isEqualTo(payload);
            }
        } finally {
            Echo.stop(server);
        }
        assertThat(ended.get(10, TimeUnit.SECONDS)).isNotEqualTo(CloseReason.PROTOCOL_ERROR);
    }

    /**
     * Debian's {@code openssl s_client} updates its keys at each {@code k} line on its input,
     * without asking for the server's (27-byte records: 9,710 of them were the old limit), a frame
     * echoed after each. The line must reach it alone, so the test waits for its
     * {@code KEYUPDATE} before it writes the frame.
     */
    @Test
    void anOpensslClientThatUpdatesItsKeysBetweenFramesIsServedToTheEnd() throws Exception {
        TestCerts.requireOpenssl();
        TestCerts certs = TestCerts.get();
        int rounds = 11_000;
        CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(),
                        Echo.READER, SenderFactory.queue(64))
                .onConnectionExit(s -> ended.complete(s.connection().closeReason()))
                .start();
        Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + server.address().getPort(),
                "-tls1_3", "-CAfile", certs.caCert.toString(), "-servername", "localhost", "-verify_return_error",
                "-quiet", "-no_ign_eof").start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(120))) {
            OutputStream stdin = p.getOutputStream();
            InputStream stdout = p.getInputStream();
            BufferedReader stderr = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.US_ASCII));
            byte[] payload = new byte[DATA];
            for (int i = 0; i < rounds; i++) {
                stdin.write('k');
                stdin.write('\n');
                stdin.flush();
                for (String line; !"KEYUPDATE".equals(line = stderr.readLine()); ) {
                    watchdog.assertNotFired("KEYUPDATE " + i);
                    assertThat(line).as("s_client's KEYUPDATE %d", i).isNotNull();
                }
                Arrays.fill(payload, (byte) i);
                byte[] frame = Echo.frame(payload);
                stdin.write(frame);
                stdin.flush();
                byte[] echoed = stdout.readNBytes(frame.length);
                watchdog.assertNotFired("echo " + i);
                assertThat(echoed).as("echo %d", i).isEqualTo(frame);
            }
            stdin.close(); // close_notify
            assertThat(ended.get(20, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            Echo.stop(server);
        }
    }

    @Test
    void aServerThatUpdatesItsKeysBetweenDataIsReadToTheEnd() throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig own = TlsConfig.clientBuilder().trustPem(certs.caCert).serverName("localhost").build();
        assertThat(againstAServerThatUpdatesItsKeys(own, CloseReason.PEER_CLOSED)).isEqualTo(ROUNDS);
    }

    /**
     * A client given a context that keeps the session tickets servers send (the JDK's default
     * client session timeout, a day), which stcp leaves as it is: what the JDK keeps is bounded by
     * records without data over the connection's life, never refilled, so the same server ends the
     * connection at its 6,092nd key update (256 KiB of 43-byte records). Refilled, a server could
     * have the JDK keep tickets without end, one byte of data for each byte of tickets.
     */
    @Test
    void aGivenContextThatKeepsTicketsIsNotChangedAndBoundsRecordsWithoutDataOverTheLife() throws Exception {
        TestCerts certs = TestCerts.get();
        SSLContext given = certs.clientContext();
        int timeout = given.getClientSessionContext().getSessionTimeout();
        TlsConfig tls = TlsConfig.clientBuilder().sslContext(given).serverName("localhost").build();
        assertThat(given.getClientSessionContext().getSessionTimeout()).isEqualTo(timeout);
        int rounds = againstAServerThatUpdatesItsKeys(tls, CloseReason.PROTOCOL_ERROR);
        assertThat(rounds).isBetween(256 * 1024 / 64, 256 * 1024 / 32); // 43-byte key updates, 32 bytes of data: never refilled
    }

    /** Runs a client with {@code tls} against {@link #serve}; its end must be {@code expected}: the rounds it read. */
    private static int againstAServerThatUpdatesItsKeys(TlsConfig tls, CloseReason expected) throws Exception {
        TestCerts certs = TestCerts.get();
        SSLContext serverContext = TestCerts.clientContext(certs.caCert, certs.serverCert, certs.serverKey);
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             LogCapture log = LogCapture.of("io.stcp.connection")) {
            listener.setSoTimeout(30_000);
            CompletableFuture<Void> served = CompletableFuture.runAsync(() -> serve(listener, serverContext));
            AtomicInteger rounds = new AtomicInteger();
            CompletableFuture<CloseReason> ended = new CompletableFuture<>();
            TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + listener.getLocalPort()).tls(tls)
                                    .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                            (sender, conn) -> {
                                byte[] b = conn.readBytes(DATA);
                                assertThat(b).containsOnly((byte) rounds.getAndIncrement());
                                sender.put(b); // the server reads it back before its next round
                            }, SenderFactory.queue(8))
                    .onDisconnect((sender, reason) -> ended.complete(reason))
                    .start();
            try {
                CloseReason reason = ended.get(60, TimeUnit.SECONDS);
                assertThat(reason).as(() -> "after " + rounds + " rounds; " + describe(served) + "; " + exits(log))
                        .isEqualTo(expected);
                if (expected == CloseReason.PEER_CLOSED) {
                    served.get(10, TimeUnit.SECONDS);
                }
                return rounds.get();
            } finally {
                client.close();
                assertThat(client.awaitTermination(Duration.ofSeconds(10))).isTrue();
                listener.close();
                try {
                    served.get(30, TimeUnit.SECONDS); // its socket failed with the client's close, or it was done
                } catch (java.util.concurrent.ExecutionException e) {
                    // the server's rounds cut short by the client's end
                }
            }
        }
    }

    private static String describe(CompletableFuture<?> served) {
        return "server " + (served.isCompletedExceptionally() ? "failed: " + served.exceptionNow()
                : served.isDone() ? "done" : "still sending");
    }

    private static List<String> exits(LogCapture log) {
        return log.events("conn.exit").stream().map(e -> e.getFormattedMessage() + " " + LogCapture.fields(e)
                + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getClassName() + ": "
                + e.getThrowableProxy().getMessage())).toList();
    }

    /**
     * Accepts one connection and sends it {@link #ROUNDS} key updates, {@link #DATA} bytes after
     * each, which it reads back before the next round (its one thread reads the client's answers
     * to the key updates: the JDK's socket fails at times when one thread updates its keys while
     * another reads an answer), then close_notify.
     */
    private static void serve(ServerSocket listener, SSLContext context) {
        try (Socket plain = listener.accept();
             SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, null, plain.getPort(), true)) {
            plain.setSoTimeout(60_000);
            tls.setUseClientMode(false);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            tls.startHandshake();
            OutputStream out = tls.getOutputStream();
            InputStream in = tls.getInputStream();
            byte[] payload = new byte[DATA];
            for (int i = 0; i < ROUNDS; i++) {
                tls.startHandshake(); // a key update
                Arrays.fill(payload, (byte) i);
                out.write(payload);
                out.flush();
                if (!Arrays.equals(in.readNBytes(DATA), payload)) {
                    throw new IllegalStateException("round " + i + " not echoed");
                }
            }
            tls.shutdownOutput(); // close_notify
            in.transferTo(OutputStream.nullOutputStream()); // until the client's
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
