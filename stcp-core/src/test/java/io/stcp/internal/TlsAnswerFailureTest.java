package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.TlsConfig;
import io.stcp.WriteTimeoutException;
import io.stcp.testing.TestCerts;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Application data that arrives in the same read as a TLS 1.3 key update whose answer cannot be
 * written (the peer has stopped reading) is read all the same: the read returns it, and the
 * answer's failure is thrown by the next read. The write side knows too: a write after it fails at
 * once and sends nothing behind the records that may have gone out in part. Before, the read threw
 * the answer's failure, and the bytes it had decrypted were lost.
 */
class TlsAnswerFailureTest {

    @Test
    void bytesDecryptedBeforeAKeyUpdateWhoseAnswerFailsAreReadAndTheFailureComesNext() throws Exception {
        TestCerts certs = TestCerts.get();
        MemoryTransport serverSide = new MemoryTransport();
        long writeTimeout = TimeUnit.MILLISECONDS.toNanos(100); // the answer's
        long deadline = Nanos.deadlineAfter(Duration.ofSeconds(30));
        try (TlsMemoryPair pair = TlsMemoryPair.open(TlsConfig.fromPem(certs.serverCert, certs.serverKey), serverSide,
                serverSide, writeTimeout, deadline)) {
            TlsTransport server = pair.server;
            TlsTransport client = pair.client;
            MemoryTransport clientSide = pair.clientSide;
            pair.stopPumps(); // from here on the records go by hand

            byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
            client.write(new ByteBuffer[] {ByteBuffer.wrap(hello)}, 0, 1, deadline);
            client.handshake(deadline); // on TLS 1.3: a key update, the answer asked for
            serverSide.feed(clientSide.takeOutput()); // both records in one read
            serverSide.stallWrites(true); // the peer reads nothing: the answer's write times out

            byte[] b = new byte[64];
            int n = server.read(b, 0, b.length, deadline);
            assertThat(Arrays.copyOf(b, Math.max(n, 0))).as("the bytes before the key update").isEqualTo(hello);
            assertThat(server.holdsInput()).as("the next read throws without waiting").isTrue();
            assertThatThrownBy(() -> server.read(b, 0, b.length, deadline)).isInstanceOf(WriteTimeoutException.class);

            serverSide.stallWrites(false);
            assertThatThrownBy(() -> server.write(new ByteBuffer[] {ByteBuffer.wrap(hello)}, 0, 1, deadline))
                    .as("the write side knows the output failed").isInstanceOf(WriteTimeoutException.class)
                    .hasMessageContaining("earlier write");
            assertThat(serverSide.takeOutput()).as("nothing goes out behind the failed write").isEmpty();
        }
    }
}
