package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.Connection;
import io.stcp.testing.SocketPair;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link Connection#inputWaiting()} on a socket: a read that came up short left nothing waiting,
 * and bytes a read left in the socket wait. Runs on the JDK transport here and on epoll in
 * {@code stcp-epoll}, which also tests what only epoll can tell: bytes that arrive after a short read.
 */
class InputWaitingTest {

    @Test
    void aShortReadLeavesNothingWaitingAndBytesAReadLeftBehindWait() throws Exception {
        try (SocketPair pair = SocketPair.open()) {
            Connection conn = pair.server;
            // A reader waiting for input when it comes reads all there is, in a short read.
            var read = pair.serverReadIntOnceWaiting();
            pair.clientWrite(ByteBuffer.allocate(4).putInt(7).array());
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(7);
            assertThat(conn.inputWaiting()).as("the short read emptied the socket").isFalse();

            int first = 64 * 1024;
            pair.clientWrite(ByteBuffer.allocate(first + 4).putInt(first, 8).array());
            await().until(() -> ((RealConnection) conn).transport().available() == first + 4);
            conn.readFully(new byte[first]); // one read that fills the array: 4 bytes stay behind
            assertThat(conn.buffered()).isZero();
            assertThat(conn.inputWaiting()).as("4 bytes left in the socket").isTrue();
            assertThat(conn.readInt()).isEqualTo(8);
        }
    }
}
