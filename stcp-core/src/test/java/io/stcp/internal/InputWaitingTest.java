package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.Connection;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
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
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress())) {
            Connection conn = Connection.of(listener.accept());
            try {
                // A reader waiting for input when it comes reads all there is, in a short read.
                CompletableFuture<Integer> read = readIntOnceWaiting(conn);
                write(client, ByteBuffer.allocate(4).putInt(0, 7));
                assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(7);
                assertThat(conn.inputWaiting()).as("the short read emptied the socket").isFalse();

                int first = 64 * 1024;
                write(client, ByteBuffer.allocate(first + 4).putInt(first, 8));
                await().until(() -> ((RealConnection) conn).transport().available() == first + 4);
                conn.readFully(new byte[first]); // one read that fills the array: 4 bytes stay behind
                assertThat(conn.buffered()).isZero();
                assertThat(conn.inputWaiting()).as("4 bytes left in the socket").isTrue();
                assertThat(conn.readInt()).isEqualTo(8);
            } finally {
                conn.close();
            }
        }
    }

    /**
     * Reads an int on a thread of its own, returned once that thread waits for input: the bytes
     * written after this are read by a reader that waited for them.
     */
    static CompletableFuture<Integer> readIntOnceWaiting(Connection conn) {
        CompletableFuture<Integer> result = new CompletableFuture<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                result.complete(conn.readInt());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        await().until(() -> reader.getState() == Thread.State.WAITING);
        return result;
    }

    static void write(SocketChannel channel, ByteBuffer bytes) throws Exception {
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }
}
