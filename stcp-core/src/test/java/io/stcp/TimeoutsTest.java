package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class TimeoutsTest {

    @Test
    void aConnectionThatGoesSilentIsClosedAfterTheReadIdleTimeout() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofMillis(200)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            long start = System.nanoTime(); // before the request: the server's silence starts after it
            assertThat(client.roundTrip(new byte[] {1})).containsExactly(1);
            assertThat(client.awaitClosedByServer()).isTrue();
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(200).toNanos());
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aBusyConnectionOutlivesTheReadIdleTimeout() throws Exception {
        // A second of patience: a stall of the test's own thread must not pass for an idle peer.
        TcpServer server = TcpServer.create(Echo.loopback().readIdleTimeout(Duration.ofSeconds(1)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
            while (System.nanoTime() < end) { // busy for three timeouts in a row
                assertThat(client.roundTrip(new byte[] {2})).containsExactly(2);
            }
            assertThat(server.connectionCount()).isEqualTo(1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aSlowlorisThatNeverCompletesAFrameIsClosedAtTheFirstFrameTimeout() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().firstFrameTimeout(Duration.ofMillis(300)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            CountDownLatch stop = new CountDownLatch(1);
            Thread trickle = Thread.ofVirtual().start(() -> {
                try {
                    client.sendRaw(new byte[] {0, 0, 0x10, 0}); // announces 4096 bytes...
                    while (!stop.await(20, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        client.sendRaw(new byte[] {'x'}); // ...and sends one every 20ms
                    }
                } catch (Exception closed) {
                    // the server hung up
                }
            });
            assertThat(client.awaitClosedByServer()).isTrue();
            stop.countDown();
            trickle.join();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aShortReadDeadlineIsKeptWhileTheReaderWaitsBetweenFrames() throws Exception {
        // No read timeout: on a transport whose idle reader suspends between frames (epoll), only
        // the reader's own deadline ends the wait, and it must be kept as closely as a blocking
        // read keeps it, not at the next of the sweeper's one-second rounds.
        ConnectionReader reader = (sender, conn) -> {
            Echo.READER.read(sender, conn);
            conn.readDeadline(Instant.now().plusMillis(200));
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {5})).containsExactly(5);
            long start = System.nanoTime();
            assertThat(client.awaitClosedByServer()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(700));
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderPastItsFrameDeadlineReadsTheRestOfTheFrameAlreadyInTheSocket() throws Exception {
        // The reader reads a frame's second byte from the socket (on the JDK transport its frame
        // deadline, 100 ms, starts there), then is busy past that deadline while the last byte
        // arrives. What is in the socket is read on either transport: on the JDK's the read failed
        // FRAME_TIMEOUT before it looked, where epoll read it. Each byte is sent before it is read.
        CountDownLatch firstRead = new CountDownLatch(1);
        CountDownLatch secondSent = new CountDownLatch(1);
        CountDownLatch secondRead = new CountDownLatch(1);
        CountDownLatch lastSent = new CountDownLatch(1);
        ConnectionReader reader = (sender, conn) -> {
            int a = conn.readUnsignedByte();
            firstRead.countDown();
            secondSent.await();
            int b = conn.readUnsignedByte(); // inside the frame, from the socket
            long past = System.nanoTime() + Duration.ofMillis(200).toNanos();
            secondRead.countDown();
            lastSent.await();
            // Busy past the frame deadline: the time passing is the subject, not a synchronisation.
            for (long left; (left = past - System.nanoTime()) > 0; ) {
                Thread.sleep(Duration.ofNanos(left));
            }
            int c = conn.readUnsignedByte(); // in the socket already
            sender.put(new byte[] {(byte) a, (byte) b, (byte) c});
        };
        TcpServer server = TcpServer.create(Echo.loopback().frameTimeout(Duration.ofMillis(100)).build(), reader,
                SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(new byte[] {1});
            assertThat(firstRead.await(10, TimeUnit.SECONDS)).isTrue();
            client.sendRaw(new byte[] {2});
            secondSent.countDown();
            assertThat(secondRead.await(10, TimeUnit.SECONDS)).isTrue();
            client.sendRaw(new byte[] {3});
            lastSent.countDown();
            assertThat(client.readRaw(3)).containsExactly(1, 2, 3);
            assertThat(server.connectionCount()).isEqualTo(1);
        } finally {
            secondSent.countDown();
            lastSent.countDown();
            Echo.stop(server);
        }
    }

    @Test
    void afterTheFirstFrameTheFirstFrameTimeoutNoLongerApplies() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().firstFrameTimeout(Duration.ofMillis(200)).build(),
                Echo.READER, SenderFactory.queue(8)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {3})).containsExactly(3);
            Awaitility.await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(2))
                    .until(() -> server.connectionCount() == 1);
            assertThat(client.roundTrip(new byte[] {4})).containsExactly(4);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void heartbeatsGoOutOnlyWhileTheConnectionIsWriteIdle() throws Exception {
        byte[] ping = Echo.frame(new byte[] {'P'});
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(Heartbeat.every(Duration.ofMillis(100), ping).andThen(s -> { }))
                .start();
        long start = System.nanoTime();
        try (TestClient client = TestClient.connect(server.address())) {
            DataInputStream in = new DataInputStream(client.socket().getInputStream());
            for (int i = 0; i < 3; i++) { // silent client: pings keep coming
                assertThat(client.readFrame()).containsExactly('P');
            }
            // No burst: however long this thread was held up, no more pings came than 100 ms periods passed.
            int waiting = in.available() / ping.length;
            long periods = (System.nanoTime() - start) / Duration.ofMillis(100).toNanos();
            assertThat(3L + waiting).isLessThanOrEqualTo(periods + 1);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void everyTimeoutTakesZeroOrNegativeAsDisabled() {
        ServerConfig c = ServerConfig.builder().writeTimeout(Duration.ofSeconds(-5))
                .readIdleTimeout(Duration.ofSeconds(-1)).firstFrameTimeout(Duration.ofMillis(-5))
                .frameTimeout(Duration.ofNanos(-1)).build();
        assertThat(List.of(c.writeTimeout(), c.readIdleTimeout(), c.firstFrameTimeout(), c.frameTimeout()))
                .containsOnly(Duration.ZERO);
        // A heartbeat is no timeout: zero does not turn it off, and its refusal says how to have none
        // (a config whose "heartbeat": "0s" meant "off", as it does for the timeouts beside it).
        assertThatThrownBy(() -> Heartbeat.every(Duration.ZERO, new byte[1]))
                .hasMessageStartingWith("interval: 0s (expected: >= 8ms")
                .hasMessageEndingWith("unlike a timeout, a heartbeat is not turned off by zero: to send no pings, add no"
                        + " Heartbeat)");
    }

    /** A null timeout was taken as none, so a null from elsewhere silently lifted the write timeout. */
    @Test
    void aConnectionRefusesANullTimeoutByNameAndANullDeadlineClearsIt() throws Exception {
        try (SocketPair pair = SocketPair.open()) {
            Connection conn = pair.server;
            conn.writeTimeout(Duration.ofSeconds(3));
            conn.readTimeout(Duration.ofSeconds(2));
            assertThatThrownBy(() -> conn.writeTimeout(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("timeout");
            assertThatThrownBy(() -> conn.readTimeout(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("timeout");
            assertThat(conn.writeTimeout()).isEqualTo(Duration.ofSeconds(3));
            assertThat(conn.readTimeout()).isEqualTo(Duration.ofSeconds(2));

            conn.readTimeout(Duration.ZERO);
            conn.readDeadline(Instant.now().minusSeconds(1)); // passed: a read fails at once
            assertThatThrownBy(conn::readUnsignedByte).isInstanceOf(ReadTimeoutException.class);
            conn.readDeadline(null); // cleared: the byte is read
            pair.clientWrite((byte) 7);
            assertThat(conn.readUnsignedByte()).isEqualTo(7);
        }
    }
}
