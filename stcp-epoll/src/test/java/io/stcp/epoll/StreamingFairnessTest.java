package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.TestCerts;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * On one carrier, readers whose peers never pause must share it: {@link StreamingFairnessProbe}
 * runs in a JVM of its own, whose scheduler has one carrier, on each transport, in plain text and
 * over TLS. A reader that always found input used to keep the carrier until its input ran out:
 * over 640 MiB echoed, two of eight connections got everything on epoll and six nothing; on the
 * JDK's transport one got 416 MiB and another 1.4. Since a reader gives way after 256 KiB read
 * without a wait ({@code Transport.giveWay}), each gets 78–82 MiB. Over TLS a reader gives way only
 * when the TLS layer holds no input of its own; one that never gave way over TLS would fail here.
 */
class StreamingFairnessTest {

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "jdk"})
    void readersThatAlwaysFindInputShareOneCarrier(String transport, @TempDir Path dir) throws Exception {
        String output = OneCarrierJvm.run(dir, transport, StreamingFairnessProbe.class);
        assertThat(output).contains("echoed min=");
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "jdk"})
    void readersThatAlwaysFindInputShareOneCarrierOverTls(String transport, @TempDir Path dir) throws Exception {
        TestCerts certs = TestCerts.get();
        String output = OneCarrierJvm.run(dir, transport, StreamingFairnessProbe.class, "tls",
                certs.serverCert.toString(), certs.serverKey.toString(), certs.caCert.toString());
        assertThat(output).contains("echoed min=");
    }
}
