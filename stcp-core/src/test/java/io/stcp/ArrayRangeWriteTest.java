package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * {@link Connection#write(byte[], int, int)}: what the socket takes at once goes straight from the
 * array, the rest waits for room; either way the peer gets exactly the range, in order, and the
 * server counts exactly its bytes as written.
 */
class ArrayRangeWriteTest {

    @Test
    void aRangeLargerThanTheSocketsHoldArrivesWholeAndIsCountedExactly() throws Exception {
        // 24 MiB: more than the two socket buffers hold, so the write takes what fits at once and
        // waits for room for the rest.
        byte[] source = new byte[(24 << 20) + 7];
        for (int i = 0; i < source.length; i++) {
            source[i] = (byte) (i * 31 + (i >>> 11));
        }
        int off = 3;
        int len = source.length - 7;
        BlockingQueue<Throwable> refusals = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            conn.readInt();
            try {
                conn.write(source, source.length - 1, 2);
            } catch (IndexOutOfBoundsException e) {
                refusals.add(e);
            }
            conn.write(source, off, len);
            conn.readInt(); // until the client closes
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(4)).start();
        try {
            try (TestClient client = TestClient.connect(server.address())) {
                client.sendRaw(new byte[4]);
                DataInputStream in = new DataInputStream(client.socket().getInputStream());
                byte[] got = new byte[len];
                in.readFully(got);
                for (int i = 0; i < len; i++) {
                    if (got[i] != source[off + i]) {
                        throw new AssertionError("byte " + i + " of the range differs");
                    }
                }
                assertThat(refusals.poll(10, TimeUnit.SECONDS)).as("a range past the array's end")
                        .isInstanceOf(IndexOutOfBoundsException.class);
            }
            Awaitility.await().until(() -> server.connectionCount() == 0);
            assertThat(server.stats().bytesOut()).isEqualTo(len);
        } finally {
            Echo.stop(server);
        }
    }
}
