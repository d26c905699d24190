package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.net.ProtocolException;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A reader that fails with an I/O error of its own (a protocol violation) is a failure a user must see. */
class ReaderFailureLoggingTest {

    @Test
    void aProtocolExceptionFromTheReaderIsLoggedAtWarn() throws Exception {
        ConnectionReader reader = (sender, conn) -> {
            int length = conn.readInt();
            throw new ProtocolException("bad frame length " + length);
        };
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8)).start();
            try (TestClient client = TestClient.connect(server.address())) {
                client.sendRaw(new byte[] {0, 0, 0, 7});
                assertThat(client.awaitClosedByServer()).isTrue();
                Awaitility.await().until(() -> !log.events("conn.exit").isEmpty());
                List<ILoggingEvent> exits = log.events("conn.exit");
                assertThat(exits.get(0).getLevel().toString()).isEqualTo("WARN");
                assertThat(exits.get(0).getThrowableProxy().getMessage()).contains("bad frame length 7");
            } finally {
                Echo.stop(server);
            }
        }
    }

    @Test
    void aPeerThatClosesIsNotAFailure() throws Exception {
        try (LogCapture log = LogCapture.of("io.stcp.connection")) {
            TcpServer server = Echo.start();
            try (TestClient client = TestClient.connect(server.address())) {
                assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
            } finally {
                Echo.stop(server);
            }
            assertThat(log.events("conn.exit")).hasSize(1);
            assertThat(log.events("conn.exit").get(0).getLevel().toString()).isEqualTo("DEBUG");
        }
    }
}
