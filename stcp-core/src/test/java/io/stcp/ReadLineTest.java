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
            // maxLength + 1 bytes are taken of a line too long (+ 1 when the last is a CR: it may end the line).
            assertThatThrownBy(() -> p.server.readLine(5)).isInstanceOf(FrameTooLongException.class);
            assertThat(text(p.server.readLine(16))).isEqualTo("xxxx");
            assertThat(text(p.server.readLine(Integer.MAX_VALUE))).isEqualTo("ok"); // memory follows the bytes
        }
    }

    /** A protocol that answers a line too long with an error and skips to the line's end (SMTP, memcached). */
    @Test
    void aLineTooLongNeverTakesItsOwnLfSoSkippingToTheLfLandsOnTheNextLine() throws Exception {
        for (String over : new String[] {"xxxxxx\n", "xxxxxx\r\n", "xxxxx\rx\n", "xxxxxxx\n", "xxxxx\r\r\n"}) {
            try (SocketPair p = SocketPair.open()) {
                p.clientWrite((over + "next\n").getBytes(StandardCharsets.US_ASCII));
                p.client.shutdownOutput(); // a skip that took the next line too finds the end, not a wait
                assertThatThrownBy(() -> p.server.readLine(5)).as(over).isInstanceOf(FrameTooLongException.class);
                byte[] skip = new byte[64];
                int n;
                do {
                    n = p.server.readUntil((byte) '\n', skip, 0, skip.length);
                } while (n > 0 && skip[n - 1] != '\n');
                assertThat(text(p.server.readLine(16))).as(over.replace("\r", "\\r").replace("\n", "\\n")).isEqualTo("next");
            }
        }
        try (SocketPair p = SocketPair.open()) { // the limit with CRLF still fits
            p.clientWrite("xxxxx\r\nyyyyy\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(text(p.server.readLine(5))).isEqualTo("xxxxx");
            assertThat(text(p.server.readLine(5))).isEqualTo("yyyyy");
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
