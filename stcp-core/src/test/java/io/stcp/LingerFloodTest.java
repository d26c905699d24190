package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.framing.FrameTooLongException;
import io.stcp.framing.LengthFieldReader;
import io.stcp.testing.Echo;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A peer that keeps sending after a protocol error. The graceful close that follows reads and
 * drops the peer's input, so that closing with input unread does not reset the replies; but only
 * 1 MiB of it ("No reset on a graceful close"): then it waits out the linger without reading, where
 * it read at full speed for the whole 2 s, a core's worth per connection.
 */
class LingerFloodTest {
    private static final int CHUNK = 64 << 10;
    private static final long GIVE_UP = 512L << 20; // the peer stops here if the server never closes

    @Test
    void aPeerThatFloodsAfterAProtocolErrorIsReadNoFurtherThanAMebibyte() throws Exception {
        BlockingQueue<Connection> ends = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(),
                        LengthFieldReader.builder().maxFrameLength(16).build((sender, body) -> { }), SenderFactory.queue(8))
                // Small socket buffers on both sides (no autotuning to megabytes): what the peer
                // writes before its writes fail (the close's reset) is then what the server read,
                // give or take them.
                .onConnectionStart(s -> s.connection().channel().setOption(StandardSocketOptions.SO_RCVBUF, CHUNK))
                .onConnectionExit(s -> ends.add(s.connection()))
                .start();
        try (Socket peer = new Socket()) {
            peer.setSendBufferSize(CHUNK);
            peer.connect(new InetSocketAddress(server.address().getAddress(), server.address().getPort()));
            CompletableFuture<Long> written = new CompletableFuture<>();
            Thread flood = Thread.ofVirtual().start(() -> written.complete(flood(peer)));
            try {
                Connection conn = ends.poll(30, TimeUnit.SECONDS);
                assertThat(conn).as("the connection's end").isNotNull();
                assertThat(conn.closeReason()).isEqualTo(CloseReason.PROTOCOL_ERROR);
                assertThat(conn.closeCause()).isInstanceOf(FrameTooLongException.class);
                // 1 MiB dropped, plus the socket buffers (64 KiB each, which Linux doubles) and the
                // read buffer: about 1.2 MiB. Dropped until the linger's 2 s were up, it was the
                // peer's whole allowance, 512 MiB.
                assertThat(written.get(30, TimeUnit.SECONDS)).isBetween((1L << 20) - CHUNK, 8L << 20);
            } finally {
                peer.close(); // ends the flood if the server never did
                flood.join();
            }
        } finally {
            Echo.stop(server);
        }
    }

    /** Announces a frame beyond the reader's limit, then writes until the server's close (a reset) fails a write; the bytes written. */
    private static long flood(Socket peer) {
        long written = 0;
        try {
            OutputStream out = peer.getOutputStream();
            out.write(ByteBuffer.allocate(4).putInt(1 << 20).array());
            byte[] chunk = new byte[CHUNK];
            while (written < GIVE_UP) {
                out.write(chunk);
                written += chunk.length;
            }
        } catch (IOException e) {
            // reset by the server's close, or closed here
        }
        return written;
    }
}
