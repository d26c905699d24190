package io.stcp.examples.readme;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.test.TestConnection;
import java.net.ProtocolException;
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
}
