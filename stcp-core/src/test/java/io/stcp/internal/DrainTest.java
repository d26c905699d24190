package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.IpLimits;
import io.stcp.ProxyProtocol;
import io.stcp.RejectReason;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.ProxyHeaders;
import io.stcp.testing.TestClient;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** drain(): stop listening, let the connections finish by themselves. */
class DrainTest {

    private static boolean refuses(InetSocketAddress address) {
        try (Socket s = new Socket()) {
            s.connect(address, 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Test
    void drainLeavesLiveConnectionsRunningAndReportsWhetherTheyEnded() throws Exception {
        TcpServer server = Echo.start();
        InetSocketAddress address = server.address();
        try (TestClient c = TestClient.connect(address)) {
            assertThat(c.roundTrip(new byte[] {1})).containsExactly(1);
            assertThat(server.drain(Duration.ofMillis(200))).as("a connection is still there").isFalse();
            assertThat(refuses(address)).as("not listening any more").isTrue();
            assertThat(c.roundTrip(new byte[] {2})).as("untouched").containsExactly(2);
            CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.drain(Duration.ofSeconds(20));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            c.close();
            assertThat(drained.get(20, TimeUnit.SECONDS)).isTrue();
            assertThat(server.termination()).isCompleted();
        } finally {
            Echo.stop(server);
        }
    }

    /** A way to stop a server. */
    private interface Stop {
        void stop(TcpServer server) throws Exception;
    }

    /**
     * Once close() or drain() has returned, the server no longer listens: a connect is refused,
     * not completed by the kernel into the backlog of a listener whose close the JDK put off until
     * its accept thread woke (and then reset). Each way, ten servers, each stopped while its accept
     * thread waits in accept again after a first connection. (shutdown() returns only once the
     * server has terminated, its accept loop ended, so after its listener's close in any case.)
     */
    @Test
    void aStopThatHasReturnedHasStoppedListening() throws Exception {
        List<Stop> stops = List.of(TcpServer::close, s -> s.drain(Duration.ZERO));
        for (int way = 0; way < stops.size(); way++) {
            for (int i = 0; i < 10; i++) {
                TcpServer server = Echo.start();
                InetSocketAddress address = server.address();
                try {
                    try (TestClient c = TestClient.connect(address)) {
                        assertThat(c.roundTrip(new byte[] {1})).containsExactly(1);
                    }
                    stops.get(way).stop(server);
                    assertThat(refuses(address)).as("%s, server %d: refused once the stop returned",
                            way == 0 ? "close" : "drain", i).isTrue();
                } finally {
                    Echo.stop(server);
                }
            }
        }
    }

    @Test
    void aConnectionAcceptedJustBeforeTheListenerClosedIsServedNotDropped() throws Exception {
        CountDownLatch accepted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        RealTcpServer server = new RealTcpServer(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8), a -> () -> {
            SocketChannel ch = a.accept();
            if (first.getAndSet(false)) {
                accepted.countDown();
                try {
                    release.await(); // the accept thread is slow to hand it on, and meanwhile the server drains
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
            return ch;
        }, System::nanoTime);
        server.start();
        InetSocketAddress address = server.address();
        try (TestClient c = TestClient.connect(address)) {
            assertThat(accepted.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.drain(Duration.ofSeconds(20));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            Awaitility.await().until(() -> refuses(address));
            release.countDown();
            assertThat(c.roundTrip(new byte[] {3})).containsExactly(3);
            assertThat(drained).isNotDone();
            c.close();
            assertThat(drained.get(20, TimeUnit.SECONDS)).isTrue();
        } finally {
            release.countDown();
            Echo.stop(server);
        }
        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void whileDrainingTheLiveConnectionsStillCountAgainstTheirAddresssLimit() throws Exception {
        InetSocketAddress client = new InetSocketAddress("192.0.2.7", 40000);
        InetSocketAddress frontend = new InetSocketAddress("198.51.100.1", 443);
        RealTcpServer server = new RealTcpServer(Echo.loopback()
                .proxyProtocol(ProxyProtocol.required("127.0.0.1/32").withHeaderTimeout(Duration.ofSeconds(30)))
                .ipLimits(IpLimits.builder().maxConnPerIp(1).build()).build(),
                Echo.READER, SenderFactory.queue(8), UnaryOperator.identity(), System::nanoTime);
        server.start();
        try (TestClient first = TestClient.connect(server.address());
             TestClient second = TestClient.connect(server.address())) {
            first.sendRaw(ProxyHeaders.concat(ProxyHeaders.v1(client, frontend), Echo.frame(new byte[] {1})));
            assertThat(first.readFrame()).containsExactly(1);
            Awaitility.await().until(() -> server.connectionCount() == 2); // the second waits for its header
            assertThat(server.drain(Duration.ofMillis(1))).as("both still there").isFalse();
            // The same client through the same proxy, its header read only now: its address has a connection already.
            InetSocketAddress sameClient = new InetSocketAddress(client.getAddress(), client.getPort() + 1);
            second.sendRaw(ProxyHeaders.concat(ProxyHeaders.v1(sameClient, frontend), Echo.frame(new byte[] {2})));
            assertThat(second.awaitClosedByServer()).as("refused, as before the drain").isTrue();
            assertThat(server.rejectedCount(RejectReason.MAX_CONN_PER_IP)).isEqualTo(1);
            assertThat(first.roundTrip(new byte[] {3})).as("untouched").containsExactly(3);
            assertThat(server.trackedAddressCount()).isEqualTo(1);
            first.close();
            assertThat(server.drain(Duration.ofSeconds(20))).isTrue();
            assertThat(server.trackedAddressCount()).as("forgotten once the last connection is gone").isZero();
        } finally {
            Echo.stop(server);
        }
    }
}
