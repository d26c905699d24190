package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TlsClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A TLS 1.3 client that packs key updates into a record, 3,276 of 5 bytes to a record of 16 KiB:
 * the JDK's engine acts on every one (a key derivation and a new cipher for each; for each that
 * asks for an answer, another derivation and a record of the server's), though RFC 8446 has a key
 * change end its record, so one record cost the server 50 to 100 ms of CPU, and the limits on
 * records without data, which counted it as one record of 16 KiB, let a client send one after
 * every 16 KiB of data for as long as it liked. A server now ends the connection at a record
 * without data longer than a post-handshake message padded takes. The client is Python's
 * {@code ssl} for the handshake, then records of its own ({@link PythonTls}).
 */
class TlsPackedKeyUpdatesTest {

    /**
     * Args: port, key log, key updates in the record, whether each asks for an answer (0/1), zero
     * bytes of padding in the record. Sends the record, then a frame of one byte under the key
     * those updates lead to; prints "sent" and holds the connection until its stdin closes.
     */
    private static final String CLIENT = PythonTls.RECORDS + """
            import os, socket, ssl, sys
            port, keylog, updates, requested, padding = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            ctx.keylog_filename = keylog
            tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30))
            out = Records(tls.cipher()[0], keylog, "CLIENT_TRAFFIC_SECRET_0 ")
            raw = socket.socket(fileno=os.dup(tls.fileno()))
            raw.settimeout(30)
            packed = out.record((b"\\x18\\x00\\x00\\x01" + bytes([requested])) * updates, 22, padding)
            for _ in range(updates):
                out.update()
            try:
                raw.sendall(packed + out.record(struct.pack(">I", 1) + b"x", 23))
            except OSError:
                pass  # the server closed first
            print("sent", flush=True)
            sys.stdin.read()
            """;

    /** A TLS 1.3 echo server counting the frames it read, and the connections' ends. */
    private static final class Server implements AutoCloseable {
        final AtomicInteger frames = new AtomicInteger();
        final BlockingQueue<Connection> ended = new LinkedBlockingQueue<>();
        final TcpServer server;

        Server(TestCerts certs) throws Exception {
            TlsConfig tls = TlsConfig.builder().protocols("TLSv1.3").pem(certs.serverCert, certs.serverKey).build();
            ConnectionReader reader = (sender, conn) -> {
                Echo.READER.read(sender, conn);
                frames.incrementAndGet();
            };
            server = TcpServer.create(Echo.loopback().tls(tls).build(), reader, SenderFactory.queue(64))
                    .onConnectionExit(s -> ended.add(s.connection())).start();
        }

        @Override
        public void close() throws Exception {
            Echo.stop(server);
        }
    }

    /** Runs the client against {@code server}: returns it once it has sent, holding its connection. */
    private static Process client(Server server, Path tmp, int updates, int requested, int padding) throws Exception {
        return new ProcessBuilder(PythonTls.requirePython(), "-c", CLIENT, Integer.toString(server.server.address().getPort()),
                tmp.resolve("keylog").toString(), Integer.toString(updates), Integer.toString(requested),
                Integer.toString(padding)).redirectError(tmp.resolve("client.err").toFile()).start();
    }

    private static void awaitSent(Process p, ProcessWatchdog watchdog) throws Exception {
        String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        watchdog.assertNotFired("the client's records");
        assertThat(line).as("the client's records sent").isEqualTo("sent");
    }

    @Test
    void aRecordOfPackedKeyUpdatesEndsTheConnectionBeforeTheDataAfterIt(@TempDir Path tmp) throws Exception {
        TestCerts certs = TestCerts.get();
        try (Server s = new Server(certs)) {
            Process p = client(s, tmp, 3276, 1, 0);
            try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(60))) {
                awaitSent(p, watchdog);
                Connection c = s.ended.poll(20, TimeUnit.SECONDS);
                assertThat(c).as("the connection ended (frames read: %d)", s.frames.get()).isNotNull();
                assertThat(c.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(c.closeCause()).hasMessageContaining("without application data");
                assertThat(s.frames).as("frames read after the packed record").hasValue(0);
            } finally {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            try (TlsClient good = TlsClient.connect(s.server.address(), certs.clientContext())) {
                assertThat(good.roundTrip(new byte[] {7})).containsExactly(7);
            }
        }
    }

    /**
     * One key update in a record padded to 400 bytes, as a library that pads its records might
     * send it, is served: the frame after it is read and echoed.
     */
    @Test
    void aPaddedKeyUpdateIsServed(@TempDir Path tmp) throws Exception {
        TestCerts certs = TestCerts.get();
        try (Server s = new Server(certs)) {
            Process p = client(s, tmp, 1, 1, 400 - 27);
            try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(60))) {
                awaitSent(p, watchdog);
                Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(s.frames).hasValue(1));
                assertThat(s.ended).as("connections ended").isEmpty();
                p.getOutputStream().close(); // the client goes
                Connection c = s.ended.poll(20, TimeUnit.SECONDS);
                assertThat(c).isNotNull();
                assertThat(c.closeReason()).isNotEqualTo(CloseReason.PROTOCOL_ERROR);
            } finally {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
