package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Limits at the far end of what a builder accepts either work or are refused when built, naming the field. */
class OverflowingLimitsTest {

    @Test
    void aDelimiterReaderWithTheLargestMaxLengthReadsLines() throws Exception {
        DelimiterReader reader = DelimiterReader.builder().lines().maxLength(Integer.MAX_VALUE)
                .build((sender, line) -> sender.put(DelimiterEncoder.lines().encode(line)));
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8)).start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
            byte[] reply = new byte[6];
            new DataInputStream(client.getInputStream()).readFully(reply);
            assertThat(new String(reply, StandardCharsets.US_ASCII)).isEqualTo("hello\n");
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aFirstFrameTimeoutOfCenturiesIsNoTimeoutAtAll() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().firstFrameTimeout(Duration.ofDays(365L * 1000)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1, 2, 3})).containsExactly(1, 2, 3);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aHugeAcceptMaxDelayStartsAndTerminatesNormally() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().acceptMaxDelay(Duration.ofSeconds(Long.MAX_VALUE)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {4})).containsExactly(4);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aShutdownGraceOfForeverWaitsNormally() throws Exception {
        TcpServer server = Echo.start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {5})).containsExactly(5);
        }
        assertThat(server.shutdown(Duration.ofSeconds(Long.MAX_VALUE))).isTrue();
        assertThat(server.termination()).isCompleted();
    }

    @Test
    void aHugeReadDeadlineOrTimeoutIsNoLimitAndAnAncientDeadlineHasPassed() throws Exception {
        try (io.stcp.testing.SocketPair p = io.stcp.testing.SocketPair.open()) {
            p.server.readTimeout(Duration.ofSeconds(Long.MAX_VALUE));
            p.server.readDeadline(java.time.Instant.MAX);
            p.clientWrite((byte) 9);
            assertThat(p.server.readUnsignedByte()).isEqualTo(9);
            p.server.readDeadline(java.time.Instant.MIN);
            assertThatThrownBy(p.server::readUnsignedByte).isInstanceOf(ReadTimeoutException.class);
        }
    }
}
