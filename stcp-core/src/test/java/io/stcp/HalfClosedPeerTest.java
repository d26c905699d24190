package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.Echo;
import java.io.DataOutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A peer that sends a request, shuts its output down and never reads. The server's reply fills the
 * socket; the write must wait for room (not spin) and fail at the write timeout.
 */
class HalfClosedPeerTest {
    private static final byte[] MEGABYTE = new byte[1 << 20];

    @Test
    void aDirectWriteToAHalfClosedPeerThatNeverReadsFailsAtTheWriteTimeout() throws Exception {
        BlockingQueue<Throwable> failures = new LinkedBlockingQueue<>();
        long[] requestAt = new long[1];
        ConnectionReader reader = (sender, conn) -> {
            conn.readInt();
            requestAt[0] = System.nanoTime();
            try {
                conn.write(new byte[16 << 20]); // the reply, written at once (Go: SendBytes2Conn)
            } catch (Throwable t) {
                failures.add(t);
                throw t;
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofMillis(500)).build(), reader,
                SenderFactory.queue(8)).start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.setReceiveBufferSize(16 << 10);
            new DataOutputStream(client.getOutputStream()).writeInt(1);
            client.shutdownOutput();
            Throwable failure = failures.poll(20, TimeUnit.SECONDS);
            assertThat(failure).as("the write failed").isInstanceOf(WriteTimeoutException.class);
            assertThat(System.nanoTime() - requestAt[0]).isLessThan(TimeUnit.SECONDS.toNanos(10));
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aHalfClosedPeerThatNeverReadsEndsTheConnectionAtTheWriteTimeout() throws Exception {
        BlockingQueue<Long> exitedAfterNanos = new LinkedBlockingQueue<>();
        long[] requestAt = new long[1];
        ConnectionReader reader = (sender, conn) -> {
            conn.readInt();
            requestAt[0] = System.nanoTime();
            for (int i = 0; i < 16; i++) {
                sender.put(MEGABYTE); // 16 MiB: far more than the socket buffers hold
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().writeTimeout(Duration.ofMillis(500)).build(), reader,
                        QueueSender.options().capacity(64).maxBytes(64 << 20)::build)
                .onConnectionExit(s -> exitedAfterNanos.add(System.nanoTime() - requestAt[0]))
                .start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.setReceiveBufferSize(16 << 10);
            new DataOutputStream(client.getOutputStream()).writeInt(1);
            client.shutdownOutput(); // FIN: the server's reader sees end of stream after the request
            Long elapsed = exitedAfterNanos.poll(20, TimeUnit.SECONDS);
            assertThat(elapsed).as("the connection ended (write timeout 500ms)").isNotNull();
            assertThat(elapsed).isLessThan(TimeUnit.SECONDS.toNanos(10));
        } finally {
            Echo.stop(server);
        }
    }
}
