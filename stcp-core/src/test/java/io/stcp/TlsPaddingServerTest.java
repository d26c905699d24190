package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with a server that pads every TLS 1.3 record to 16 KiB: Debian's {@code openssl s_server}
 * with {@code -record_padding 16384} sends each of its session tickets in a record of 16,405 bytes
 * without application data, as long as a record that packs thousands of key updates. A client
 * takes eight such records at once (and one a minute after): eight tickets are read through, and
 * the data after them, the connection up. Counted as packed records against 64 KiB over the
 * connection's life, the fourth ticket ended it as {@code PROTOCOL_ERROR}. (s_server's key update
 * command, {@code k}, drops whatever else the same read of its input took, so the key updates are
 * left to {@link TlsPackedSessionTicketsTest}'s padded server.)
 */
class TlsPaddingServerTest {
    private static final Pattern ACCEPT = Pattern.compile("ACCEPT 127\\.0\\.0\\.1:(\\d+)");
    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void anOpensslServerThatPadsEveryRecordIsReadToTheEnd(@TempDir Path tmp) throws Exception {
        TestCerts certs = TestCerts.get();
        Path out = tmp.resolve("s_server.out");
        Process p = new ProcessBuilder("openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certs.serverCert.toString(),
                "-key", certs.serverKey.toString(), "-tls1_3", "-record_padding", "16384", "-num_tickets", "8", "-naccept", "1")
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        TcpClient client = null;
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(60))) {
            int port = Awaitility.await().atMost(WAIT).until(() -> acceptPort(out), found -> found > 0);
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            CompletableFuture<Connection> connected = new CompletableFuture<>();
            CompletableFuture<CloseReason> ended = new CompletableFuture<>();
            TlsConfig tls = TlsConfig.clientBuilder().trustPem(certs.caCert).serverName("localhost").build();
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + port).tls(tls)
                                    .reconnectDelay(Duration.ofMinutes(1)).reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                            (sender, conn) -> lines.add(new String(conn.readLine(100), StandardCharsets.US_ASCII)),
                            SenderFactory.queue(8))
                    .onConnect(sender -> connected.complete(sender.connection()))
                    .onDisconnect((sender, reason) -> ended.complete(reason))
                    .start();
            connected.get(WAIT.toSeconds(), TimeUnit.SECONDS);

            say(p.getOutputStream(), "hello"); // data, after the eight tickets
            assertThat(lines.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the line after eight padded tickets (the"
                    + " connection's end: %s; %s)", ended.getNow(null), connected.get().closeCause()).isEqualTo("hello");
            assertThat(ended).as("the connection still open").isNotDone();
            watchdog.assertNotFired("s_server");
        } finally {
            if (client != null) {
                client.close();
                assertThat(client.awaitTermination(Duration.ofSeconds(10))).isTrue();
            }
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void say(OutputStream stdin, String line) throws IOException {
        stdin.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        stdin.flush();
    }

    /** The port s_server printed it accepts on, or 0 before it has. */
    private static int acceptPort(Path out) throws IOException {
        Matcher m = ACCEPT.matcher(Files.readString(out, StandardCharsets.ISO_8859_1));
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }
}
