package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A poll loop that fails (an {@code Error} or a bug, injected through {@link EpollPoller#faults})
 * never leaves a connection waiting for an edge that will not come: the socket whose signal failed
 * is failed alone, and a loop that cannot continue fails all of its sockets and is replaced for the
 * ones that come next ({@link EpollPoller}, "Failures").
 */
class PollLoopFailureTest {
    private static final Duration PROMPTLY = Duration.ofSeconds(20); // generous: the point is "not never"

    private final Map<Integer, Connection> connections = new ConcurrentHashMap<>(); // by the client's port
    private final Map<Integer, CloseReason> exits = new ConcurrentHashMap<>();

    @AfterEach
    void noFaults() {
        EpollPoller.faults = null;
    }

    private TcpServer start() throws Exception {
        return TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> connections.put(port(s.connection()), s.connection()))
                .onConnectionExit(s -> exits.put(port(s.connection()), s.connection().closeReason()))
                .start();
    }

    @Test
    void aSignalThatFailsFailsOnlyItsConnection() throws Exception {
        TcpServer server = start();
        try (LogCapture log = LogCapture.of("io.stcp.epoll");
             TestClient failing = TestClient.connect(server.address());
             TestClient other = TestClient.connect(server.address())) {
            assertThat(failing.roundTrip(new byte[] {1})).containsExactly((byte) 1);
            assertThat(other.roundTrip(new byte[] {2})).containsExactly((byte) 2);
            int fd = Fds.of(connections.get(failing.localAddress().getPort()).channel());
            AtomicBoolean thrown = new AtomicBoolean();
            EpollPoller.faults = new EpollPoller.Faults() {
                @Override
                public void beforeSignal(long token) {
                    if ((int) token == fd && thrown.compareAndSet(false, true)) {
                        throw new OutOfMemoryError("injected: unparking the reader");
                    }
                }
            };

            failing.sendFrame(new byte[] {3}); // its edge is taken by the poll loop, and not signalled
            CompletableFuture<Void> end = endOfStream(failing);
            Awaitility.await("the connection whose signal failed to close").atMost(PROMPTLY).until(end::isDone);
            assertThat(thrown).isTrue();
            Awaitility.await().atMost(PROMPTLY).until(() -> exits.containsKey(failing.localAddress().getPort()));
            assertThat(exits.get(failing.localAddress().getPort())).isEqualTo(CloseReason.FAILED);

            assertThat(other.roundTrip(new byte[] {4})).as("the others go on").containsExactly((byte) 4);
            assertThat(exits).doesNotContainKey(other.localAddress().getPort());
            assertThat(log.events("epoll.signal.failed")).hasSize(1);
            assertThat(log.events("epoll.poller.dead")).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aPollLoopThatCannotContinueFailsItsConnectionsAndNewOnesGoToANewLoop() throws Exception {
        TcpServer server = start();
        try (LogCapture log = LogCapture.of("io.stcp.epoll");
             TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly((byte) 1);
            int fd = Fds.of(connections.get(client.localAddress().getPort()).channel());
            AtomicReference<Thread> loop = new AtomicReference<>(); // the client's poll loop: the others go on
            EpollPoller.faults = new EpollPoller.Faults() {
                @Override
                public void beforeSignal(long token) {
                    if ((int) token == fd) {
                        loop.compareAndSet(null, Thread.currentThread());
                    }
                }

                @Override
                public void beforePoll() {
                    if (loop.get() == Thread.currentThread()) {
                        throw new IllegalStateException("injected: a bug in the poll loop");
                    }
                }
            };

            // Once the client's poll loop has signalled a frame, it is known, and fails from its next
            // poll on; an idle loop polls only when woken: the next frame wakes it.
            client.sendFrame(new byte[] {2});
            Awaitility.await().atMost(PROMPTLY).until(() -> loop.get() != null);
            client.sendFrame(new byte[] {3});
            CompletableFuture<Void> end = endOfStream(client);
            Awaitility.await("the dead loop's connection to close").atMost(PROMPTLY).until(end::isDone);
            Awaitility.await().atMost(PROMPTLY).until(() -> exits.containsKey(client.localAddress().getPort()));
            assertThat(exits.get(client.localAddress().getPort())).isEqualTo(CloseReason.FAILED);
            assertThat(log.events("epoll.poller.dead")).as("logged once").hasSize(1);
            assertThat(log.events("epoll.poll.failed")).as("its first failure, not every retry").hasSize(1);
            EpollPoller.faults = null;

            // One more than there are loops: one of them takes the dead loop's turn in the round, on
            // the new loop in its place (not on the JDK transport, which a failed register falls back to).
            try (LogCapture connLog = LogCapture.of("io.stcp.connection")) {
                int places = EpollReadinessSource.registeredCounts().length;
                for (int i = 0; i <= places; i++) {
                    try (TestClient next = TestClient.connect(server.address())) {
                        assertThat(next.roundTrip(new byte[] {(byte) i})).containsExactly((byte) i);
                    }
                }
                assertThat(connLog.events("conn.transport.fallback")).as("connections off the epoll transport").isEmpty();
            }
        } finally {
            Echo.stop(server);
        }
    }

    private static int port(Connection c) {
        return ((InetSocketAddress) c.remoteAddress()).getPort();
    }

    /** Completes when the server closes {@code client} (what it echoed before is skipped). */
    private static CompletableFuture<Void> endOfStream(TestClient client) {
        CompletableFuture<Void> end = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                client.socket().setSoTimeout(0); // the wait is the test's (closing the client ends this read)
                InputStream in = client.socket().getInputStream();
                while (in.read() >= 0) {
                    // skip
                }
                end.complete(null);
            } catch (Exception e) {
                end.complete(null); // reset: closed too
            }
        });
        return end;
    }
}
