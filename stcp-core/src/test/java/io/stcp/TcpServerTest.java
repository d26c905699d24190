package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TcpServerTest {

    @Test
    void echoesFramesInOrder() throws Exception {
        TcpServer server = Echo.start();
        try (TestClient client = TestClient.connect(server.address())) {
            for (int i = 0; i < 100; i++) {
                byte[] payload = ("message " + i).getBytes(StandardCharsets.UTF_8);
                assertThat(client.roundTrip(payload)).isEqualTo(payload);
            }
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void portZeroBindsARealPortThatIsKnownWhenStartReturns() throws Exception {
        TcpServer server = Echo.start();
        try {
            assertThat(server.address().getPort()).isPositive();
            try (TestClient client = TestClient.connect(server.address())) {
                assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
            }
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A server closed before it listened — never started, or its start failed — logs its
     * {@code server.stop} line with the address it was given; it said {@code address="null"}.
     */
    @Test
    void aServerThatNeverListenedNamesItsConfiguredAddressWhenItStops() throws Exception {
        TcpServer first = Echo.start();
        String taken = "127.0.0.1:" + first.address().getPort();
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            TcpServer unstarted = TcpServer.create(ServerConfig.builder().address(":0").build(), Echo.READER,
                    SenderFactory.queue(8));
            unstarted.close();
            TcpServer failed = TcpServer.create(ServerConfig.builder().address(taken).build(), Echo.READER,
                    SenderFactory.queue(8));
            assertThatThrownBy(failed::start).isInstanceOf(BindException.class);
            failed.close();
            assertThat(unstarted.awaitTermination(Duration.ofSeconds(5))).isTrue();
            assertThat(failed.awaitTermination(Duration.ofSeconds(5))).isTrue();
            assertThat(log.events("server.stop")).extracting(e -> LogCapture.fields(e).get("address"))
                    .containsExactly(":0", taken);
        } finally {
            Echo.stop(first);
        }
    }

    @Test
    void bindFailureIsThrownFromStartAndNamesTheAddress() throws Exception {
        TcpServer first = Echo.start();
        try {
            String taken = "127.0.0.1:" + first.address().getPort();
            TcpServer second = TcpServer.create(ServerConfig.builder().address(taken).build(), Echo.READER,
                    SenderFactory.queue(8));
            assertThatThrownBy(second::start).isInstanceOf(BindException.class).hasMessageContaining(taken);
            assertThatThrownBy(second::address).isInstanceOf(IllegalStateException.class);
            second.close();
            assertThat(second.awaitTermination(Duration.ofSeconds(5))).isTrue();
        } finally {
            Echo.stop(first);
        }
    }

    @Test
    void startingTwiceOrAfterCloseIsIllegal() throws Exception {
        TcpServer server = Echo.start();
        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
        Echo.stop(server);
        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void closeEndsLiveConnectionsThroughTheExitHooks() throws Exception {
        int clients = 5;
        CountDownLatch started = new CountDownLatch(clients);
        AtomicInteger exits = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> started.countDown())
                .onConnectionExit(s -> exits.incrementAndGet())
                .start();
        List<TestClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < clients; i++) {
                open.add(TestClient.connect(server.address()));
            }
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(server.connectionCount()).isEqualTo(clients);

            server.close();

            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
            assertThat(exits).hasValue(clients);
            assertThat(server.connectionCount()).isZero();
            for (TestClient c : open) {
                assertThat(c.awaitClosedByServer()).isTrue();
            }
        } finally {
            for (TestClient c : open) {
                c.close();
            }
        }
    }

    @Test
    void closeFromManyThreadsAtOnceIsSafe() throws Exception {
        TcpServer server = Echo.start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.roundTrip(new byte[] {7});
            List<Thread> closers = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int i = 0; i < 16; i++) {
                closers.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        server.close();
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }));
            }
            go.countDown();
            for (Thread t : closers) {
                t.join();
            }
            assertThat(errors).isEmpty();
            assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
            assertThat(client.awaitClosedByServer()).isTrue();
        }
    }

    @Test
    void terminationIsPendingUntilCloseAndCompletesNormallyAfter() throws Exception {
        TcpServer server = Echo.start();
        assertThat(server.termination()).isNotDone();
        assertThat(server.awaitTermination(Duration.ofMillis(50))).isFalse();
        server.close();
        assertThat(server.awaitTermination(Duration.ofSeconds(10))).isTrue();
        assertThat(server.termination()).isCompleted();
    }

    @Test
    void closingAServerThatNeverStartedTerminatesIt() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8));
        server.close();
        assertThat(server.awaitTermination(Duration.ofSeconds(1))).isTrue();
    }
}
