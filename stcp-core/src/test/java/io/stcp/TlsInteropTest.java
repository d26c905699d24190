package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.ProcessWatchdog;
import io.stcp.testing.TestCerts;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Interop with a peer nobody here wrote: Debian's {@code openssl s_client} sends frames through
 * the TLS echo server and reads them back, on TLS 1.3 and 1.2, verifying the server's certificate
 * against the test CA; closing its input makes it send {@code close_notify}, which the reader sees
 * as a clean end of stream.
 */
class TlsInteropTest {

    @ParameterizedTest(name = "{0} with an {1} key")
    @CsvSource({"-tls1_3, EC", "-tls1_2, EC", "-tls1_3, RSA", "-tls1_2, RSA"})
    void opensslClientSendsFramesAndReadsTheEcho(String protocolFlag, String keyType, @org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        TestCerts certs = TestCerts.get();
        TlsConfig tls = keyType.equals("EC") ? TlsConfig.fromPem(certs.serverCert, certs.serverKey)
                : TlsConfig.fromPem(certs.rsaCert, certs.rsaKeyPkcs1);
        BlockingQueue<CloseReason> ends = new LinkedBlockingQueue<>();
        BlockingQueue<String> protocols = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().tls(tls).build(), Echo.READER, SenderFactory.queue(64))
                .onConnectionStart(s -> protocols.add(s.connection().tls().orElseThrow().protocol()))
                .onConnectionExit(s -> ends.add(s.connection().closeReason()))
                .start();
        Path stderr = tmp.resolve("s_client.err");
        Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + server.address().getPort(),
                protocolFlag, "-CAfile", certs.caCert.toString(), "-servername", "localhost", "-verify_return_error",
                "-quiet", "-no_ign_eof", "-nocommands")
                .redirectError(stderr.toFile()).start();
        try (ProcessWatchdog watchdog = ProcessWatchdog.watch(p, Duration.ofSeconds(20))) {
            ByteArrayOutputStream sent = new ByteArrayOutputStream();
            for (int i = 0; i < 20; i++) {
                sent.write(Echo.frame(("frame " + i + " ").repeat(i + 1).getBytes(StandardCharsets.UTF_8)));
            }
            sent.write(Echo.frame(new byte[40_000])); // spans several records each way
            OutputStream stdin = p.getOutputStream();
            stdin.write(sent.toByteArray());
            stdin.flush();
            byte[] echoed = readN(p.getInputStream(), sent.size(), stderr, watchdog);
            assertThat(echoed).isEqualTo(sent.toByteArray());
            stdin.close(); // s_client sends close_notify and exits
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("s_client exits").isTrue();
            assertThat(ends.poll(10, TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(protocols.poll()).isEqualTo(protocolFlag.equals("-tls1_3") ? "TLSv1.3" : "TLSv1.2");
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            Echo.stop(server);
        }
    }

    /** Reads exactly {@code n} bytes, or fails with what s_client said. */
    private static byte[] readN(InputStream in, int n, Path stderr, ProcessWatchdog watchdog) throws IOException {
        byte[] b = new byte[n];
        int done = 0;
        while (done < n) {
            int r = in.read(b, done, n - done);
            if (r < 0) {
                watchdog.assertNotFired(n - done + " more bytes of the echo");
                throw new AssertionError("s_client ended after " + done + " of " + n + " bytes: "
                        + String.join("\n", lines(stderr)));
            }
            done += r;
        }
        return b;
    }

    private static List<String> lines(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file) : new ArrayList<>();
    }
}
