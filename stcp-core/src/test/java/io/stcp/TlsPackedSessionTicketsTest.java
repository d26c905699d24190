package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A TLS 1.3 server that packs session tickets into records, 910 of 18 bytes to a record, leaves the
 * client none. The JDK's client made each ticket a session of about 600 bytes and kept it for the
 * connection's life: 14 such records, 230 KB of the server's and within any budget on records
 * without data, grew the client's heap by 8.5 MB (12,740 sessions). Now the client's context has
 * the JDK drop tickets. The server is Python's {@code ssl} for the handshake; then it writes
 * records of its own under its traffic key, which OpenSSL's key log gives it (OpenSSL itself
 * writes one ticket per record).
 */
class TlsPackedSessionTicketsTest {
    private static final int RECORDS = 14;

    private static final String SERVER = PythonTls.RECORDS + """
            import os, socket, ssl, sys
            cert, key, keylog, records = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            ctx.load_cert_chain(cert, key)
            ctx.num_tickets = 0
            ctx.keylog_filename = keylog
            ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1); ls.settimeout(30)
            print(ls.getsockname()[1], flush=True)
            conn, _ = ls.accept(); conn.settimeout(30)
            tls = ctx.wrap_socket(conn, server_side=True)
            out = Records(tls.cipher()[0], keylog, "SERVER_TRAFFIC_SECRET_0 ")
            # NewSessionTicket: lifetime 3600 s, age_add 0, no nonce, a ticket of one byte, no extensions
            ticket = b"\\x04\\x00\\x00\\x0e" + struct.pack(">II", 3600, 0) + b"\\x00" + b"\\x00\\x01T" + b"\\x00\\x00"
            raw = socket.socket(fileno=os.dup(tls.fileno()))
            raw.settimeout(30)  # the descriptor is non-blocking (the timeout above): sendall waits for room
            raw.sendall(b"".join(out.record(ticket * (16384 // len(ticket)), 22) for _ in range(records)) + out.record(b"x", 23))
            try:
                while raw.recv(65536): pass  # until the client closes
            except OSError:
                pass
            """;

    @Test
    void aServerThatPacksTicketsIntoRecordsLeavesTheClientNone(@TempDir Path tmp) throws Exception {
        String python = PythonTls.requirePython();
        TestCerts certs = TestCerts.get();
        Process p = new ProcessBuilder(python, "-c", SERVER, certs.serverCert.toString(), certs.serverKey.toString(),
                tmp.resolve("keylog").toString(), Integer.toString(RECORDS))
                .redirectError(tmp.resolve("server.err").toFile()).start();
        TcpClient client = null;
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(30))) {
            String port = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            watchdog.assertNotFired("the server's port");
            assertThat(port).as("the server's port").isNotNull();
            TlsConfig tls = TlsConfig.clientBuilder().trustPem(certs.caCert).serverName("localhost").build();
            CountDownLatch data = new CountDownLatch(1);
            CompletableFuture<CloseReason> ended = new CompletableFuture<>();
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + port).tls(tls)
                                    .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                            (sender, conn) -> {
                                conn.readBytes(1);
                                data.countDown();
                            }, SenderFactory.queue(8))
                    .onDisconnect((sender, reason) -> ended.complete(reason))
                    .start();
            assertThat(data.await(20, TimeUnit.SECONDS)).as("the byte after the tickets read").isTrue();
            assertThat(ended).as("the connection still open").isNotDone();
            // Each ticket the JDK keeps is a session in the client's context: the connection's own is one.
            assertThat(Collections.list(tls.sslContext().getClientSessionContext().getIds()))
                    .as("sessions in the client's context").hasSizeLessThanOrEqualTo(1);
        } finally {
            if (client != null) {
                client.close();
                assertThat(client.awaitTermination(Duration.ofSeconds(10))).isTrue();
            }
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
