package io.stcp.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.CloseReason;
import io.stcp.ConnectionReader;
import io.stcp.FrameTimeoutException;
import io.stcp.ReadTimeoutException;
import io.stcp.SenderFactory;
import io.stcp.framing.DelimiterEncoder;
import io.stcp.framing.DelimiterReader;
import io.stcp.framing.FrameTooLongException;
import io.stcp.framing.LengthFieldEncoder;
import io.stcp.framing.LengthFieldReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TestConnectionTest {
    private static final LengthFieldEncoder ENCODER = LengthFieldEncoder.standard();
    private static final ConnectionReader ECHO = LengthFieldReader.builder().maxFrameLength(64)
            .build((sender, body) -> sender.put(ENCODER.encode(body)));

    @Test
    void aFrameSplitAcrossReadsIsEchoedWholeAndEndOfStreamEndsTheConnection() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.feed(new byte[] {0, 0}, new byte[] {0, 2}, "h".getBytes(), "i".getBytes());
            assertThat(peer.read(6)).containsExactly(0, 0, 0, 2, 'h', 'i');
            peer.endInput();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(peer.isOutputShut()).isTrue(); // a graceful close: FIN after the last reply
        }
    }

    @Test
    void repliesAcceptedBeforeAProtocolErrorAreWrittenThenTheConnectionEnds() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.feed(ENCODER.encode("one".getBytes()), ENCODER.encode(new byte[100])); // 100 > 64
            assertThat(peer.read(7)).endsWith("one".getBytes());
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(FrameTooLongException.class);
        }
    }

    @Test
    void aReadTimeoutCanBeCaughtByTheReaderOrEndTheConnection() throws Exception {
        AtomicInteger pings = new AtomicInteger();
        byte[] ping = DelimiterEncoder.lines().encode("PING".getBytes());
        ConnectionReader heartbeat = (sender, conn) -> {
            try {
                byte[] line = conn.readLine(100);
                if (line == null) {
                    throw new java.io.EOFException();
                }
                sender.put(DelimiterEncoder.lines().encode(line));
            } catch (FrameTimeoutException e) {
                throw e;
            } catch (ReadTimeoutException e) {
                if (pings.incrementAndGet() > 1) {
                    throw e; // silent twice: give up
                }
                sender.put(ping);
            }
        };
        try (TestConnection peer = TestConnection.start(heartbeat)) {
            peer.timeoutNextRead();
            assertThat(peer.readText(5)).isEqualTo("PING\n");
            peer.feed("hello\r\n");
            assertThat(peer.readText(6)).isEqualTo("hello\n");
            peer.timeoutNextRead();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.READ_TIMEOUT);
        }
    }

    @Test
    void aPeerThatStopsReadingMakesTheWriteTimeOut() throws Exception {
        ConnectionReader reader = DelimiterReader.builder().lines()
                .build((sender, line) -> sender.put(DelimiterEncoder.lines().encode(line)));
        try (TestConnection peer = TestConnection.start(reader, SenderFactory.queue(8),
                s -> s.connection().writeTimeout(Duration.ofMillis(100)))) {
            peer.stallWrites(true).feed("a\n");
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.WRITE_TIMEOUT);
            assertThat(peer.readAvailable()).isEmpty();
        }
    }

    @Test
    void aResetPeerEndsTheConnectionAndTheSenderIsThereForPushes() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO)) {
            peer.sender().put("pushed".getBytes(StandardCharsets.US_ASCII));
            assertThat(peer.readText(6)).isEqualTo("pushed");
            peer.resetInput();
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PEER_RESET);
        }
    }

    @Test
    void waitingForOutputThatNeverComesFailsTheTestInsteadOfHangingIt() throws Exception {
        try (TestConnection peer = TestConnection.start(ECHO).timeout(Duration.ofMillis(50))) {
            assertThatThrownBy(() -> peer.read(1)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("expected 1 bytes written");
        }
    }
}
