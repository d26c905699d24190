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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A TLS 1.3 server that packs handshake messages into records, or pads them. Session tickets, 910
 * of 18 bytes to a record, leave the client none: the JDK's client made each ticket a session of
 * about 600 bytes and kept it for the connection's life (14 such records, 230 KB of the server's
 * and within any budget on records without data, grew the client's heap by 8.5 MB: 12,740
 * sessions); now the client's context has the JDK drop tickets. Key updates, 3,276 of 5 bytes to a
 * record, each a key derivation and a new cipher for the client's engine (50 to 100 ms of its CPU
 * a record), end the connection past eight such records at once: the limits on records without
 * data counted each as one record of 16 KiB, which data refilled, so a server that sent one after
 * each 16 KiB of data kept the client's reader busy for as long as it liked. A server that pads
 * each ticket and key update to a whole record (OpenSSL's {@code -record_padding 16384}) is read
 * to the end. The server is Python's {@code ssl} for the handshake; then it writes records of its
 * own under its traffic key, which OpenSSL's key log gives it (OpenSSL itself writes one ticket per
 * record).
 */
class TlsPackedSessionTicketsTest {
    /** Records of packed tickets: three of 16 KiB, within the eight long records without data a client takes at once. */
    private static final int RECORDS = 3;
    /** The long records without data a client takes at once: eight of the longest (TlsTransport.MAX_CLIENT_LONG_EMPTY_BYTES). */
    private static final int LONG_RECORDS_AT_ONCE = 8;

    /**
     * Args: cert, key, key log, records, kind. {@code tickets}: the records of packed tickets, then
     * a record of data, one byte; {@code updates}: each record of packed key updates followed by
     * one of data, {@link #DATA} bytes, then close_notify; {@code padded}: that many tickets, each
     * padded to a whole record, a byte of data, then that many key updates, each padded so and
     * followed by a byte of data. Then reads until the client closes.
     */
    private static final String SERVER = PythonTls.RECORDS + """
            import os, socket, ssl, sys
            cert, key, keylog, records, kind = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
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
            update = b"\\x18\\x00\\x00\\x01\\x00"  # KeyUpdate, update_not_requested
            raw = socket.socket(fileno=os.dup(tls.fileno()))
            raw.settimeout(30)  # the descriptor is non-blocking (the timeout above): sendall waits for room
            try:
                if kind == "tickets":
                    raw.sendall(b"".join(out.record(ticket * (16384 // len(ticket)), 22) for _ in range(records))
                                + out.record(b"x", 23))
                elif kind == "updates":
                    for _ in range(records):
                        packed = out.record(update * (16384 // len(update)), 22)
                        for _ in range(16384 // len(update)):
                            out.update()
                        raw.sendall(packed + out.record(b"x" * 16384, 23))
                    raw.sendall(out.record(b"\\x01\\x00", 21))  # close_notify
                elif kind == "padded":
                    for _ in range(records):  # tickets, each padded to a whole record, then data
                        raw.sendall(out.record(ticket, 22, 16384 - len(ticket)))
                    raw.sendall(out.record(b"x", 23))
                    for _ in range(records):  # key updates, each padded to a whole record, data after each
                        update_record = out.record(update, 22, 16384 - len(update))
                        out.update()
                        raw.sendall(update_record + out.record(b"x", 23))
                while raw.recv(65536): pass  # until the client closes
            except OSError:
                pass  # the client closed first
            """;

    /** The data after each record of key updates: 16 KiB, which refills the allowance of records without data as much. */
    private static final int DATA = 16384;

    /** A client of the server the script above runs, reading values of {@code size} bytes. */
    private static final class Client implements AutoCloseable {
        final Process server;
        final ProcessWatchdog watchdog;
        final AtomicInteger values = new AtomicInteger();
        final CompletableFuture<Connection> connected = new CompletableFuture<>();
        final CompletableFuture<CloseReason> ended = new CompletableFuture<>();
        final TlsConfig tls;
        TcpClient client;

        Client(Path tmp, int records, String kind, int size) throws Exception {
            String python = PythonTls.requirePython();
            TestCerts certs = TestCerts.get();
            server = new ProcessBuilder(python, "-c", SERVER, certs.serverCert.toString(), certs.serverKey.toString(),
                    tmp.resolve("keylog").toString(), Integer.toString(records), kind)
                    .redirectError(tmp.resolve("server.err").toFile()).start();
            watchdog = ProcessWatchdog.watch(server, Duration.ofSeconds(60));
            String port;
            try {
                port = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                watchdog.assertNotFired("the server's port");
                assertThat(port).as("the server's port").isNotNull();
            } catch (Exception | AssertionError e) {
                server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                watchdog.close();
                throw e;
            }
            tls = TlsConfig.clientBuilder().trustPem(certs.caCert).serverName("localhost").build();
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + port).tls(tls)
                                    .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                            (sender, conn) -> {
                                conn.readBytes(size);
                                values.incrementAndGet();
                            }, SenderFactory.queue(8))
                    .onConnect(sender -> connected.complete(sender.connection()))
                    .onDisconnect((sender, reason) -> ended.complete(reason))
                    .start();
        }

        @Override
        public void close() throws Exception {
            try {
                client.close();
                assertThat(client.awaitTermination(Duration.ofSeconds(10))).isTrue();
            } finally {
                server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                watchdog.close();
            }
        }
    }

    @Test
    void aServerThatPacksTicketsIntoRecordsLeavesTheClientNone(@TempDir Path tmp) throws Exception {
        try (Client c = new Client(tmp, RECORDS, "tickets", 1)) {
            Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(c.values).as("the byte after the tickets read").hasValue(1));
            assertThat(c.ended).as("the connection still open").isNotDone();
            // Each ticket the JDK keeps is a session in the client's context: the connection's own is one.
            assertThat(Collections.list(c.tls.sslContext().getClientSessionContext().getIds()))
                    .as("sessions in the client's context").hasSizeLessThanOrEqualTo(1);
        }
    }

    @Test
    void aServerThatPacksKeyUpdatesIntoRecordsBetweenDataEndsTheConnectionPastEightAtOnce(@TempDir Path tmp) throws Exception {
        try (Client c = new Client(tmp, 20, "updates", DATA)) {
            assertThat(c.ended.get(30, TimeUnit.SECONDS)).as("after %d records of data", c.values.get())
                    .isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(c.connected.get().closeCause()).hasMessageContaining("TLS records without application data"
                    + " longer than 512 bytes: more than 131248 bytes of them at once");
            assertThat(c.values).as("the data after the first eight records of key updates").hasValue(LONG_RECORDS_AT_ONCE);
        }
    }

    /**
     * Four tickets and four key updates, each padded to a whole record, as OpenSSL's
     * {@code -record_padding 16384} sends them: eight such records at once, all read, the
     * connection open. Counted as packed ones and never refilled, the fourth ticket ended it.
     */
    @Test
    void aServerThatPadsEachTicketAndKeyUpdateToAWholeRecordIsReadToTheEnd(@TempDir Path tmp) throws Exception {
        try (Client c = new Client(tmp, LONG_RECORDS_AT_ONCE / 2, "padded", 1)) {
            Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(c.values).as("the bytes after the tickets and after each key update (the connection's"
                            + " end: %s)", c.ended.getNow(null)).hasValue(1 + LONG_RECORDS_AT_ONCE / 2));
            assertThat(c.ended).as("the connection still open").isNotDone();
        }
    }
}
