package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.SocketPair;
import java.io.EOFException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** {@link Connection#readLine(int)}: a line step inside a reader, for protocols that mix lines and payloads. */
class ReadLineTest {

    private static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.US_ASCII);
    }

    @Test
    void linesEndWithLfOrCrLfAndMixWithBinaryReads() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite("$5\r\nhello\r\n+OK\nlast".getBytes(StandardCharsets.US_ASCII));
            p.client.shutdownOutput();
            assertThat(text(p.server.readLine(16))).isEqualTo("$5");
            assertThat(text(p.server.readBytes(5))).isEqualTo("hello"); // a binary payload after a line
            assertThat(text(p.server.readLine(16))).isEmpty();          // the payload's CRLF
            assertThat(text(p.server.readLine(16))).isEqualTo("+OK");
            assertThatThrownBy(() -> p.server.readLine(16)).isInstanceOf(EOFException.class);
            assertThat(p.server.readLine(16)).isNull(); // end of stream before a line
        }
    }

    @Test
    void aLineSpanningManyBuffersIsAssembledAndTheLimitCountsTheContentOnly() throws Exception {
        byte[] longLine = new byte[100_000];
        Arrays.fill(longLine, (byte) 'x');
        try (SocketPair p = SocketPair.open()) {
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    p.clientWrite(longLine);
                    p.clientWrite("\r\n".getBytes(StandardCharsets.US_ASCII));
                    p.clientWrite(longLine);
                    p.clientWrite("x\n".getBytes(StandardCharsets.US_ASCII));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertThat(p.server.readLine(100_000)).isEqualTo(longLine); // exactly the limit, CR not counted
            assertThatThrownBy(() -> p.server.readLine(100_000)).isInstanceOf(FrameTooLongException.class);
            writer.join();
        }
    }

    @Test
    void aLineTooLongFailsAtTheLimitAndLeavesTheRestUnread() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite("xxxxxxxxxx\nok\n".getBytes(StandardCharsets.US_ASCII));
            // At most maxLength + 2 bytes (content, CR, LF) are taken for a line.
            assertThatThrownBy(() -> p.server.readLine(5)).isInstanceOf(FrameTooLongException.class);
            assertThat(text(p.server.readLine(16))).isEqualTo("xxx");
            assertThat(text(p.server.readLine(Integer.MAX_VALUE))).isEqualTo("ok"); // memory follows the bytes
        }
    }

    @Test
    void aBadLimitIsRejected() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            assertThatThrownBy(() -> p.server.readLine(0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("maxLength: 0 (expected: > 0)");
        }
    }
}
