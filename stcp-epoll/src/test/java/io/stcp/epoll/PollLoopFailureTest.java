package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A poll loop that fails (an {@code Error} or a bug, injected through {@link EpollPoller#faults})
 * never leaves a connection waiting for an edge that will not come: the socket whose signal failed
 * is failed alone, and a loop that cannot continue fails all of its sockets, leaves no thread and no
 * descriptor behind, and is replaced for the ones that come next ({@link EpollPoller}, "Failures").
 */
class PollLoopFailureTest {
    private static final Duration PROMPTLY = Duration.ofSeconds(20); // generous: the point is "not never"
    private static final String EPOLL_INSTANCE = "anon_inode:[eventpoll]";
    private static final String EVENTFD = "anon_inode:[eventfd]";

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
            int fd = ConnectionFd.of(connections.get(failing.localAddress().getPort()));
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
    void aPollLoopThatCannotContinueFailsItsConnectionsLeavesNothingBehindAndNewOnesGoToANewLoop() throws Exception {
        TcpServer server = start();
        try (LogCapture log = LogCapture.of("io.stcp.epoll");
             TestClient client = TestClient.connect(server.address())) {
            assertThat(client.roundTrip(new byte[] {1})).containsExactly((byte) 1);
            long epollInstances = descriptors(EPOLL_INSTANCE);
            long eventFds = descriptors(EVENTFD);
            int fd = ConnectionFd.of(connections.get(client.localAddress().getPort()));
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
            // poll on; an idle loop polls only when woken: the next frame wakes it. A frame that
            // arrives before the reader waits again (the echo of the last one read by then) is read
            // without a signal: its echo comes back with none known (a signalled frame's echo, if its
            // loop lives long enough to see it written, comes after the signal), and one more is sent.
            InputStream in = client.socket().getInputStream();
            for (int sent = 0; loop.get() == null; sent++) {
                assertThat(sent).as("frames read without a signal of the poll loop").isLessThan(100);
                client.sendFrame(new byte[] {2});
                Awaitility.await().atMost(PROMPTLY).until(() -> loop.get() != null || in.available() >= 5);
                if (loop.get() == null) {
                    assertThat(client.readFrame()).containsExactly((byte) 2);
                }
            }
            client.sendFrame(new byte[] {3});
            CompletableFuture<Void> end = endOfStream(client);
            Awaitility.await("the dead loop's connection to close").atMost(PROMPTLY).until(end::isDone);
            Awaitility.await().atMost(PROMPTLY).until(() -> exits.containsKey(client.localAddress().getPort()));
            assertThat(exits.get(client.localAddress().getPort())).isEqualTo(CloseReason.FAILED);
            // The dying loop fails its sockets first and logs after: their ends may come before the line.
            Awaitility.await("the death logged").atMost(PROMPTLY).until(() -> !log.events("epoll.poller.dead").isEmpty());
            assertThat(log.events("epoll.poller.dead")).as("logged once").hasSize(1);
            assertThat(log.events("epoll.poll.failed")).as("its first failure, not every retry").hasSize(1);
            EpollPoller.faults = null;

            // Dead, it leaves nothing behind: its two waker threads end, and its three epoll instances
            // and its eventfd are closed (the live loop's stay open).
            String wakers = loop.get().getName() + "-waker-";
            Awaitility.await("the dead loop's wakers to end, its descriptors to close").atMost(PROMPTLY)
                    .until(() -> threadsNamed(wakers) == 0 && descriptors(EPOLL_INSTANCE) == epollInstances - 3
                            && descriptors(EVENTFD) == eventFds - 1);

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
            assertThat(threadsNamed(wakers)).as("the new loop's wakers").isEqualTo(2);
            assertThat(descriptors(EPOLL_INSTANCE)).as("the new loop's epoll instances").isEqualTo(epollInstances);
            assertThat(descriptors(EVENTFD)).isEqualTo(eventFds);
        } finally {
            Echo.stop(server);
        }
    }

    /** Descriptors of this process whose link reads {@code type} ({@link #EPOLL_INSTANCE}, {@link #EVENTFD}). */
    @Test
    void aRegistrationThatFailsWithAnErrorLeavesNoSlotTaken() throws Exception {
        int before = EpollReadinessSource.registeredCount();
        AtomicBoolean thrown = new AtomicBoolean();
        EpollPoller.faults = new EpollPoller.Faults() {
            @Override
            public void beforeRegister(int fd) {
                if (thrown.compareAndSet(false, true)) {
                    throw new InternalError("injected: registering the socket"); // an Error, as out of memory
                }
            }
        };
        TcpServer server = start();
        try {
            try (TestClient refused = TestClient.connect(server.address())) {
                assertThat(refused.awaitClosedByServer()).as("its connection could not start").isTrue();
            }
            assertThat(thrown).isTrue();
            assertThat(EpollReadinessSource.registeredCount()).as("the failed registration's slot").isEqualTo(before);
            try (TestClient next = TestClient.connect(server.address())) {
                assertThat(next.roundTrip(new byte[] {1})).containsExactly((byte) 1);
            }
        } finally {
            Echo.stop(server);
        }
    }

    private static long descriptors(String type) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals(type);
                } catch (IOException e) {
                    return false; // closed meanwhile (the listing's own descriptor, say)
                }
            }).count();
        }
    }

    /** Live platform threads whose name begins with {@code prefix} (the wakers are platform threads). */
    private static long threadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
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
