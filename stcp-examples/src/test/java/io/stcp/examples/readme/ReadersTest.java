package io.stcp.examples.readme;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.test.TestConnection;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The README's readers, tested with the test kit: no sockets. */
class ReadersTest {

    // snippet:start length-prefixed-test
    @Test
    void aFrameSplitInPiecesIsReadWholeAndABadLengthEndsTheConnection() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers::lengthPrefixedReader)) {
            peer.feed(new byte[] {0, 0, 0, 5, 'h', 'e'}, new byte[] {'l', 'l', 'o'}); // one frame, two reads
            assertThat(peer.readText(5)).isEqualTo("hello"); // the reader put the body

            peer.feed(new byte[] {0, 0, 0, 0}); // a zero length: a protocol error
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
            assertThat(peer.closeCause()).isInstanceOf(ProtocolException.class).hasMessage("bad frame length 0");
        }
    }
    // snippet:end

    @Test
    void theRelayingReaderEchoesFramesWhateverTheirSize() throws Exception {
        try (TestConnection peer = TestConnection.start(Readers::relayingReader)) {
            for (int size : new int[] {0, 5, 16_380, 70_000}) {
                byte[] frame = ByteBuffer.allocate(4 + size).putInt(size).array();
                Arrays.fill(frame, 4, frame.length, (byte) size);
                peer.feed(Arrays.copyOfRange(frame, 0, 4 + size / 2), Arrays.copyOfRange(frame, 4 + size / 2, frame.length));
                assertThat(peer.read(frame.length)).as("a frame of %d bytes", size).isEqualTo(frame);
            }
            peer.feed(new byte[] {-1, 0, 0, 0}); // a negative length: a protocol error
            assertThat(peer.awaitClose()).isEqualTo(CloseReason.PROTOCOL_ERROR);
        }
    }
}
