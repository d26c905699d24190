package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A careless reader — one that catches every {@link IOException} and reads on, in one call — is
 * stopped after a bounded number of reads once its connection has ended, however it ended: its
 * call ends, the connection ends with the reason of its end, the exit hooks run, its thread ends
 * and the server's shutdown completes. Before, it spun a core for ever (the exit never came: the
 * JUnit timeout). (stcp-epoll runs these on its transport too.)
 */
class CarelessReaderTest {
    /** The reads that fail after the end before the guard throws, and the guard's two throws. */
    private static final int BOUND = 1 + 1000 + 2;

    /** What the exit hook saw. */
    private record Exit(CloseReason reason, int failures) {}

    /** How the connection ends under the reader's read. */
    enum End {
        GRACEFUL_CLOSE(CloseReason.CLOSED),
        CLOSE(CloseReason.SLOW_CONSUMER),
        PEER_RESET(CloseReason.PEER_RESET),
        FRAME_TIMEOUT(CloseReason.FRAME_TIMEOUT),
        SHUTDOWN(CloseReason.SHUTDOWN);

        final CloseReason reason;

        End(CloseReason reason) {
            this.reason = reason;
        }
    }

    @ParameterizedTest
    @EnumSource(End.class)
    @Timeout(20)
    void aReaderThatSwallowsEveryFailedReadIsStopped(End end) throws Exception {
        AtomicInteger failures = new AtomicInteger();
        AtomicReference<Thread> readerThread = new AtomicReference<>();
        CountDownLatch reading = new CountDownLatch(1);
        AtomicBoolean stop = new AtomicBoolean(); // the old code's reader ends only so
        ConnectionReader careless = (sender, conn) -> {
            readerThread.set(Thread.currentThread());
            reading.countDown();
            while (!stop.get()) {
                try {
                    conn.readInt();
                } catch (IOException e) {
                    failures.incrementAndGet(); // and reads on
                }
            }
        };
        BlockingQueue<Exit> exits = new LinkedBlockingQueue<>();
        AtomicReference<Connection> connection = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofMillis(200)).build(),
                        careless, SenderFactory.queue(8))
                .onConnectionStart(s -> connection.set(s.connection()))
                .onConnectionExit(s -> exits.add(new Exit(s.connection().closeReason(), failures.get())))
                .start();
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            assertThat(reading.await(10, TimeUnit.SECONDS)).isTrue();
            switch (end) {
                case GRACEFUL_CLOSE -> connection.get().closeGracefully(Duration.ofSeconds(5));
                case CLOSE -> connection.get().close(CloseReason.SLOW_CONSUMER);
                case PEER_RESET -> {
                    client.setSoLinger(true, 0);
                    client.close();
                }
                case FRAME_TIMEOUT -> {
                    OutputStream out = client.getOutputStream();
                    out.write(new byte[] {0, 0}); // half an int: the frame timeout ends the input
                    out.flush();
                }
                case SHUTDOWN -> server.close();
            }
            Exit exit = exits.take(); // the old code: never (the JUnit timeout)
            assertThat(exit.reason()).isEqualTo(end.reason);
            assertThat(exit.failures()).as("reads that failed before the call ended").isBetween(1, BOUND);
            await().atMost(Duration.ofSeconds(10)).until(() -> !readerThread.get().isAlive());
            Echo.stop(server); // the shutdown completes, the reader's flag untouched
        } finally {
            stop.set(true);
            Echo.stop(server);
        }
    }
}
