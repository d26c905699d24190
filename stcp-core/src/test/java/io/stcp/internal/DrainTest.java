package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.TestClient;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
}
