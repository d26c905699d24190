package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.CloseReason;
import io.stcp.ClientConfig;
import io.stcp.Sender;
import io.stcp.SenderFactory;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A transport whose close throws — anything but an {@link IOException}: a bug, out of memory — does
 * not stop what comes after the close: the connection ends fully (exit hooks, its slot, its
 * threads), a server's stop ends every connection and frees the port, a client's close ends its
 * connection. The transport here is a layer over the socket's own, so this runs on the JDK's
 * transport and again on epoll's.
 */
class FailingCloseTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    /**
     * Queue senders made only once {@link #release} is counted down: the connection starts, and
     * waits there through the interrupt of its exit, so that it has a sender, and exit hooks to run.
     */
    private static final class HeldFactory implements SenderFactory {
        final CountDownLatch entered;
        final CountDownLatch release = new CountDownLatch(1);

        HeldFactory(int connections) {
            entered = new CountDownLatch(connections);
        }

        @Override
        public Sender create(io.stcp.Connection connection) throws Exception {
            entered.countDown();
            boolean interrupted = false;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (release.getCount() > 0 && System.nanoTime() - deadline < 0) {
                try {
                    release.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return SenderFactory.queue(8).create(connection);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void aConnectionWhoseTransportCloseThrowsEndsFully(String kind) throws Exception {
        int threadsBefore = Threads.live();
        Queue<CloseReason> exits = new ConcurrentLinkedQueue<>();
        CountDownLatch exited = new CountDownLatch(1);
        try (LogCapture conn = LogCapture.of("io.stcp.connection")) {
            RealTcpServer s = new RealTcpServer(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                    .layUnder(FailingCloseTransport.layer(FailingCloseChannel.failure(kind)));
            s.onConnectionExit(sender -> {
                exits.add(sender.connection().closeReason());
                exited.countDown();
            }).start();
            InetSocketAddress address = s.address();
            try {
                try (TestClient client = TestClient.connect(address)) {
                    assertThat(client.roundTrip(new byte[] {7})).containsExactly(7);
                }

                assertThat(exited.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the exit hooks ran").isTrue();
                assertThat(exits).containsExactly(CloseReason.PEER_CLOSED);
                await().atMost(WAIT).until(() -> s.connectionCount() == 0);
                assertThat(conn.events("conn.sender.failed")).as("the sender's close never throws").isEmpty();
            } finally {
                stopAndCheck(s, address, threadsBefore);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void closingTheServerEndsEveryConnectionWhoseTransportCloseThrows(String kind) throws Exception {
        int threadsBefore = Threads.live();
        HeldFactory factory = new HeldFactory(2);
        CountDownLatch exited = new CountDownLatch(2);
        RealTcpServer s = new RealTcpServer(Echo.loopback().build(), Echo.READER, factory)
                .layUnder(FailingCloseTransport.layer(FailingCloseChannel.failure(kind)));
        s.onConnectionExit(sender -> exited.countDown()).start();
        InetSocketAddress address = s.address();
        try (TestClient a = TestClient.connect(address); TestClient b = TestClient.connect(address)) {
            assertThat(factory.entered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            s.close(); // ends both while they start: their closes throw

            factory.release.countDown();
            assertThat(exited.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("both connections' exit hooks ran").isTrue();
            assertThat(a.awaitClosedByServer()).isTrue();
            assertThat(b.awaitClosedByServer()).isTrue();
            assertThat(s.awaitTermination(WAIT)).as("terminated").isTrue();
            assertThat(s.connectionCount()).isZero();
        } finally {
            factory.release.countDown();
            stopAndCheck(s, address, threadsBefore);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"runtime", "error"})
    void closingTheClientEndsItsConnectionWhoseTransportCloseThrows(String kind) throws Exception {
        int threadsBefore = Threads.live();
        RealTcpServer echo = new RealTcpServer(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8));
        echo.start();
        HeldFactory factory = new HeldFactory(1);
        CountDownLatch disconnected = new CountDownLatch(1);
        RealTcpClient client = new RealTcpClient(
                ClientConfig.builder("127.0.0.1:" + echo.address().getPort()).build(), Echo.READER, factory,
                Dialer.Resolver.DNS, nanos -> TimeUnit.NANOSECONDS.sleep(nanos), () -> 0.5,
                List.of(FailingCloseTransport.layer(FailingCloseChannel.failure(kind))));
        client.onDisconnect((sender, reason) -> disconnected.countDown());
        try {
            client.start();
            assertThat(factory.entered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            client.close(); // ends its connection while it starts: its close throws

            factory.release.countDown();
            assertThat(disconnected.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the exit hooks ran").isTrue();
            assertThat(client.awaitTermination(WAIT)).as("terminated").isTrue();
        } finally {
            factory.release.countDown();
            client.close();
            client.awaitTermination(WAIT);
            stopAndCheck(echo, echo.address(), threadsBefore);
        }
    }

    /** Stops {@code s}, and sees its port free and the threads back to {@code threadsBefore}. */
    private static void stopAndCheck(RealTcpServer s, InetSocketAddress address, int threadsBefore) throws Exception {
        Echo.stop(s);
        try (ServerSocketChannel again = ServerSocketChannel.open()) {
            again.setOption(StandardSocketOptions.SO_REUSEADDR, true); // as the server: TIME_WAIT does not hold the port
            again.bind(address); // throws if the listener is still open
        }
        await().atMost(WAIT).until(() -> Threads.live() <= threadsBefore);
    }
}
