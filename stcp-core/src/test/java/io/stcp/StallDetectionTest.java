package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.EOFException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The spinning-reader detector must not mistake a reader that consumes through channel() for a stalled one. */
class StallDetectionTest {

    @Test
    void aReaderThatConsumesThroughTheChannelIsNotAStalledReader() throws Exception {
        int bytes = 20_000; // one byte per reader call: far more than 1,000 calls within a second
        CountDownLatch sent = new CountDownLatch(1);
        AtomicLong consumed = new AtomicLong();
        BlockingQueue<String> exits = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            ByteBuffer one = ByteBuffer.allocate(1);
            int n = conn.channel().read(one);
            if (n < 0) {
                throw new EOFException();
            }
            consumed.addAndGet(n);
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8))
                .onConnectionStart(s -> sent.await(10, TimeUnit.SECONDS))
                .onConnectionExit(s -> exits.add(String.valueOf(s.connection().isOpen())))
                .start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.getOutputStream().write(new byte[bytes]);
            client.shutdownOutput();
            sent.countDown();
            assertThat(exits.poll(20, TimeUnit.SECONDS)).isNotNull();
            assertThat(consumed.get()).isEqualTo(bytes);
        } finally {
            Echo.stop(server);
        }
    }
}
