package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.framing.CorruptFrameException;
import io.stcp.framing.FrameTooLongException;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Connection#readBytes(byte[], int)}: a value read into one array after a copy of a prefix. */
class ReadBytesPrefixTest {
    // Buffered at once, up to the first growing size, just past it, a small buffer, a large one,
    // and values that grow as they arrive.
    private static final int[] LENGTHS = {0, 1, 255, 256, 257, 4096, 16_384, 65_537, 100_000, 1 << 20};

    @Test
    void framesReadAfterTheirHeaderComeBackWholeFromOneArrayWhileTheyTrickleIn() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int n = conn.readInt();
            byte[] frame = conn.readBytes(ByteBuffer.allocate(4).putInt(n).array(), n);
            assertThat(frame).hasSize(4 + n);
            sender.put(frame); // the header the client sent, then its body
        }, SenderFactory.queue(16)).start();
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        Random random = new Random(7);
        for (int n : LENGTHS) {
            byte[] body = new byte[n];
            random.nextBytes(body);
            sent.writeBytes(Echo.frame(body));
        }
        byte[] wire = sent.toByteArray();
        try (TestClient client = TestClient.connect(server.address())) {
            // Pieces that split headers and bodies.
            assertThat(client.exchange(wire, 7_000)).isEqualTo(wire);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aNegativeLengthOrOneBeyondTheLargestArrayIsRejectedBeforeAnyByteIsRead() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(new byte[] {1, 2, 3});
            byte[] prefix = new byte[16];
            assertThatThrownBy(() -> p.server.readBytes(prefix, -1))
                    .isInstanceOf(CorruptFrameException.class).hasMessageContaining("-1");
            assertThatThrownBy(() -> p.server.readBytes(prefix, Integer.MAX_VALUE - 10))
                    .isInstanceOf(FrameTooLongException.class).hasMessageContaining("largest array");
            assertThat(p.server.readBytes(new byte[] {9}, 0)).containsExactly(9);
            assertThat(p.server.readBytes(new byte[] {9}, 3)).containsExactly(9, 1, 2, 3);
        }
    }
}
