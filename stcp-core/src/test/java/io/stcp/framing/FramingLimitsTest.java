package io.stcp.framing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.QueueSender;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.EOFException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FramingLimitsTest {
    private static final FrameHandler IGNORE = (sender, frame) -> {};

    @Test
    void aFrameTooLargeForAnArrayIsRefusedNamingItsSizeNotByAnOverflow() {
        // A body within a few bytes of 2^31 made fieldLength + body.length negative: NegativeArraySizeException.
        // The sizes are checked before anything is allocated; a 2 GiB body does not fit the tests' heap.
        assertThatThrownBy(() -> LengthField.frameLength(8, Integer.MAX_VALUE - 2, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2147483653 bytes").hasMessageContaining("2147483639");
        assertThatThrownBy(() -> LengthField.frameLength(0, Integer.MAX_VALUE - 3, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2147483648 bytes");
        assertThat(LengthField.frameLength(4, io.stcp.internal.DelimitedRead.MAX_ARRAY - 4, 0)).isEqualTo(io.stcp.internal.DelimitedRead.MAX_ARRAY);
    }

    @Test
    void aHeaderLongerThanTheLargestFrameIsRefusedWhenTheReaderIsBuilt() {
        FrameHandler ignore = (sender, frame) -> {};
        // Without the check: an int overflow (every read failing), or a header larger than any frame read whole.
        assertThatThrownBy(() -> LengthFieldReader.builder().lengthFieldOffset(Integer.MAX_VALUE).build(ignore))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most maxFrameLength");
        assertThatThrownBy(() -> LengthFieldReader.builder().maxFrameLength(16).lengthFieldOffset(13).build(ignore))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("17 bytes of header");
        LengthFieldReader.builder().maxFrameLength(16).lengthFieldOffset(12).build(ignore); // a header of 16 fits
    }

    @Test
    void anOversizedLengthFailsBeforeTheBodyIsSent() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0, 0, 0x10, 0); // announces 4096 bytes; no body follows
            LengthFieldReader reader = LengthFieldReader.builder().maxFrameLength(1024).build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("4100").hasMessageContaining("1024");
        }
    }

    /**
     * TLS meeting plain text: a record's header read as a length is hundreds of megabytes, and
     * "frame of 369295621 bytes" alone does not tell a user that the peer speaks TLS (a client's
     * hello to a plain port, a TLS server's alert to a plain-text client). The first frame says so;
     * a later one with the same bytes is only too long.
     */
    @Test
    void aTlsRecordReadAsTheFirstFramesLengthIsNamed() throws Exception {
        LengthFieldReader reader = LengthFieldReader.builder().maxFrameLength(1024).build(IGNORE);
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0x16, 0x03, 0x01, 0x01, 0x05); // a client's hello
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class)
                    .hasMessage("frame of 369295621 bytes (length field 369295617) exceeds maxFrameLength 1024 (its first"
                            + " bytes, 16 03 01, begin a TLS handshake record: a TLS peer on a plain-text connection?)");
        }
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a); // a server's alert
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("(length field 352518912)")
                    .hasMessageEndingWith("(its first bytes, 15 03 03, begin a TLS alert record: a TLS peer refusing"
                            + " plain text, say a plain-text client on a TLS port?)");
        }
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0, 0, 0, 1, 'x', 0x16, 0x03, 0x01, 0x01); // a frame, then the same header
            reader.read(QueueSender.create(p.server, 1), p.server);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageNotContaining("TLS");
        }
    }

    @Test
    void aHugeEightByteLengthIsTooLongNotNegative() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite((byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF);
            LengthFieldReader reader = LengthFieldReader.builder().lengthFieldLength(8).build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("18446744073709551615");
        }
    }

    @Test
    void aLengthThatAdjustsBelowZeroIsCorrupt() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0, 2); // says 2 bytes in all, but the header alone is 4
            LengthFieldReader reader = LengthFieldReader.builder().lengthFieldLength(2).lengthAdjustment(-4).build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(CorruptFrameException.class).hasMessageContaining("negative");
        }
    }

    @Test
    void endOfStreamInsideAFrameIsAnEofException() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWriteBytes(0, 0, 0, 5, 'a', 'b');
            p.client.shutdownOutput();
            LengthFieldReader reader = LengthFieldReader.builder().build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server)).isInstanceOf(EOFException.class);
        }
    }

    @Test
    void aLineLongerThanTheLimitFailsWithoutWaitingForItsEnd() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite("0123456789abcdef".getBytes(StandardCharsets.US_ASCII)); // no newline, ever
            DelimiterReader reader = DelimiterReader.builder().lines().maxLength(10).build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("10");
        }
    }

    @Test
    void aLineOfExactlyTheLimitIsAccepted() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite("0123456789\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[][] got = new byte[1][];
            DelimiterReader.builder().lines().maxLength(10).build((s, f) -> got[0] = f)
                    .read(QueueSender.create(p.server, 1), p.server);
            assertThat(new String(got[0], StandardCharsets.US_ASCII)).isEqualTo("0123456789");
        }
    }

    @Test
    void aLineOneByteOverTheLimitIsRejectedEvenWithItsDelimiterRightAfter() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite("0123456789X\n".getBytes(StandardCharsets.US_ASCII));
            DelimiterReader reader = DelimiterReader.builder().lines().maxLength(10).build(IGNORE);
            assertThatThrownBy(() -> reader.read(QueueSender.create(p.server, 1), p.server))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("11");
        }
    }

    @Test
    void encodersRejectWhatTheirFormatCannotCarry() {
        assertThatThrownBy(() -> LengthFieldEncoder.of(1, ByteOrder.BIG_ENDIAN, 0).encode(new byte[256]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("256");
        assertThatThrownBy(() -> DelimiterEncoder.lines().encode("a\nb".getBytes(StandardCharsets.US_ASCII)))
                .hasMessageContaining("offset 1");
        assertThatThrownBy(() -> FixedLengthReader.of(4, IGNORE).encode(new byte[3])).hasMessageContaining("expected: 4");
        assertThat(LengthFieldEncoder.standard().encode(new byte[] {'h', 'i'})).containsExactly(0, 0, 0, 2, 'h', 'i');
    }

    @Test
    void aDelimiterEncoderRefusesContentTheReaderWouldEndEarly() throws Exception {
        byte[] blankLine = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        byte[] content = "Host: a\r\n".getBytes(StandardCharsets.US_ASCII); // holds no "\r\n\r\n" of its own
        assertThatThrownBy(() -> DelimiterEncoder.of(blankLine).encode(content))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offset 7");
        // A line that ends in '\r' keeps it: the line reader strips one '\r' before the '\n'.
        assertThat(DelimiterEncoder.lines().encode("hi\r".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo("hi\r\r\n".getBytes(StandardCharsets.US_ASCII));
        // What it does accept comes back whole.
        byte[] ok = "Host: a\r\nX: b".getBytes(StandardCharsets.US_ASCII);
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(DelimiterEncoder.of(blankLine).encode(ok));
            byte[][] got = new byte[1][];
            DelimiterReader.builder().delimiter(blankLine).build((s, f) -> got[0] = f)
                    .read(QueueSender.create(p.server, 1), p.server);
            assertThat(got[0]).isEqualTo(ok);
        }
    }

    @Test
    void badOptionsNameTheOption() {
        assertThatThrownBy(() -> LengthFieldReader.builder().lengthFieldLength(5)).hasMessage("lengthFieldLength: 5 (expected: 1, 2, 3, 4 or 8)");
        assertThatThrownBy(() -> LengthFieldReader.builder().maxFrameLength(0)).hasMessage("maxFrameLength: 0 (expected: 1 .. 2147483639)");
        assertThatThrownBy(() -> LengthFieldReader.builder().lengthFieldOffset(-1)).hasMessage("lengthFieldOffset: -1 (expected: >= 0)");
        assertThatThrownBy(() -> DelimiterReader.builder().maxLength(-1)).hasMessage("maxLength: -1 (expected: > 0)");
        assertThatThrownBy(() -> DelimiterReader.builder().delimiter(new byte[0])).hasMessageContaining("empty");
        assertThatThrownBy(() -> FixedLengthReader.of(0, IGNORE)).hasMessage("frameLength: 0 (expected: > 0)");
    }

    @Test
    void anOversizedFrameEndsOnlyItsConnectionAndTheServerServesOthers() throws Exception {
        LengthFieldEncoder encoder = LengthFieldEncoder.standard();
        LengthFieldReader reader = LengthFieldReader.builder().maxFrameLength(1024)
                .build((sender, body) -> sender.put(encoder.encode(body)));
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(16)).start();
        try (TestClient good = TestClient.connect(server.address());
             TestClient bad = TestClient.connect(server.address())) {
            assertThat(good.roundTrip(new byte[] {1})).containsExactly(1);
            bad.sendRaw(new byte[] {0, 0x10, 0, 0}); // 1 MiB announced
            assertThat(bad.awaitClosedByServer()).isTrue();
            assertThat(good.roundTrip(new byte[] {2, 3})).containsExactly(2, 3);
        } finally {
            Echo.stop(server);
        }
    }
}
