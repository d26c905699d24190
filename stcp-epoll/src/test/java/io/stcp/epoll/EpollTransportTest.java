package io.stcp.epoll;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.Connection;
import io.stcp.SenderFactory;
import io.stcp.TcpServer;
import io.stcp.internal.ConnectionChannel;
import io.stcp.internal.RealConnection;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The epoll transport itself; the core's whole suite also runs on it (see this module's pom).
 * Surefire forces {@code -Dio.stcp.transport=epoll}, so a server that cannot use epoll fails to start.
 */
class EpollTransportTest {

    @Test
    void theModuleMakesItsOwnSocketCallsUnlessSwitchedOff() {
        boolean on = Boolean.parseBoolean(System.getProperty(EpollReadinessSource.SOCKET_CALLS_PROPERTY, "true"));
        assertThat(new EpollReadinessSource().socketCalls()).isEqualTo(on ? SocketSyscalls.INSTANCE : null);
    }

    @Test
    void acceptedConnectionsAreNonBlockingOnEpollAndLeaveThePollerWhenClosed() throws Exception {
        BlockingQueue<Connection> connections = new LinkedBlockingQueue<>();
        int before = EpollReadinessSource.registeredCount();
        TcpServer server;
        try (LogCapture log = LogCapture.of("io.stcp.server")) {
            server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                    .onConnectionStart(s -> connections.add(s.connection())).start();
            assertThat(LogCapture.fields(log.events("server.start").get(0))).containsEntry("transport", "epoll");
        }
        try {
            List<TestClient> clients = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                clients.add(TestClient.connect(server.address()));
                assertThat(clients.get(i).roundTrip(new byte[] {(byte) i})).containsExactly((byte) i);
                Connection c = connections.poll(10, TimeUnit.SECONDS);
                assertThat(((RealConnection) c).transportName()).isEqualTo("epoll");
                assertThat(c.channel().isBlocking()).isFalse();
            }
            assertThat(EpollReadinessSource.registeredCount()).isEqualTo(before + 10);
            assertThat(EpollReadinessSource.registeredCounts()).as("this module's tests run two pollers, sharing the sockets")
                    .hasSize(2).doesNotContain(0);
            for (TestClient c : clients) {
                c.close();
            }
            Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> EpollReadinessSource.registeredCount() == before);
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void manyConnectionsEchoLargeAndSmallFramesPipelinedThroughPartialWrites() throws Exception {
        // Frames up to 256 KiB, written before any reply is read: the server's writes fill the
        // socket and must wait for EPOLLOUT edges; every byte must come back in order.
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(64)).start();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < 50; c++) {
                long seed = c;
                results.add(pool.submit(echoFrames(server, seed, 40)));
            }
            for (Future<Integer> f : results) {
                assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(40);
            }
        } finally {
            pool.shutdownNow();
            Echo.stop(server);
        }
    }

    private static Callable<Integer> echoFrames(TcpServer server, long seed, int frames) {
        return () -> {
            try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
                s.setSoTimeout(30_000);
                Random random = new Random(seed);
                List<byte[]> sent = new ArrayList<>();
                for (int i = 0; i < frames; i++) {
                    byte[] b = new byte[random.nextInt(i % 8 == 0 ? 256 << 10 : 64)];
                    random.nextBytes(b);
                    sent.add(b);
                }
                Thread writer = Thread.ofVirtual().start(() -> {
                    try {
                        DataOutputStream out = new DataOutputStream(s.getOutputStream());
                        for (byte[] b : sent) {
                            out.writeInt(b.length);
                            out.write(b);
                        }
                        out.flush();
                    } catch (Exception e) {
                        // the reader below fails the test
                    }
                });
                DataInputStream in = new DataInputStream(s.getInputStream());
                int ok = 0;
                for (byte[] b : sent) {
                    byte[] got = new byte[in.readInt()];
                    in.readFully(got);
                    if (java.util.Arrays.equals(got, b)) {
                        ok++;
                    }
                }
                writer.join();
                return ok;
            }
        };
    }

    @Test
    void thePollerCountIsOnePerFourCoresOrWhatThePropertySaysAndABadValueIsNamed() {
        assertThat(EpollReadinessSource.pollerCount(null, 2)).isEqualTo(1);
        assertThat(EpollReadinessSource.pollerCount(null, 16)).isEqualTo(4);
        assertThat(EpollReadinessSource.pollerCount(" 3 ", 2)).isEqualTo(3);
        for (String bad : new String[] {"0", "-1", "1025", "two", ""}) {
            assertThatThrownBy(() -> EpollReadinessSource.pollerCount(bad, 2))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("io.stcp.epoll.pollers: " + bad + " (expected: 1 to 1024)");
        }
    }

    @Test
    void bytesThatArriveAfterAShortReadAreWaitingBeforeAnyReadTakesThem() throws Exception {
        // The JDK transport cannot tell this without a system call; epoll knows it from the
        // poller's edge (io.stcp.internal.InputWaitingTest covers what both transports tell).
        try (SocketPair pair = SocketPair.open()) {
            Connection conn = pair.server;
            var read = pair.serverReadIntOnceWaiting();
            pair.clientWrite(ByteBuffer.allocate(4).putInt(1).array());
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(1);
            assertThat(conn.inputWaiting()).as("the short read emptied the socket").isFalse();

            pair.clientWrite(ByteBuffer.allocate(4).putInt(2).array());
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(conn::inputWaiting);
            assertThat(conn.buffered()).isZero();
            assertThat(conn.readInt()).isEqualTo(2);
        }
    }

    @Test
    void stcpCallsASocketByItsChannelsDescriptorAndAChannelClosedBehindItsBackEndsItsConnectionAtItsNextCall()
            throws Exception {
        // stcp registers, reads and writes a socket by its channel's own descriptor: one per
        // connection. Only the transport's close closes the channel (Connection.channel(), its
        // socket and their streams close the connection). A channel closed all the same (here
        // through stcp's own handle on it; code could close the number natively) is outside the
        // contract; then the kernel gives its number to the next socket it opens, here the next
        // accepted one, and the connection's next call finds the channel closed at its start and
        // ends the connection, without a byte reaching that other socket.
        BlockingQueue<Integer> registered = recordRegistrations();
        BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> started.add(s.connection())).start();
        try (TestClient a = TestClient.connect(server.address()); SocketChannel b = SocketChannel.open()) {
            assertThat(a.roundTrip(new byte[] {1})).containsExactly((byte) 1);
            Connection connA = started.poll(10, TimeUnit.SECONDS);
            SocketChannel jdkA = ((ConnectionChannel) connA.channel()).jdkChannel();
            int fdA = ConnectionFd.of(connA); // the channel's, and no other descriptor names A's socket
            String socketA = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fdA)).toString();
            assertThat(registeredFor(registered, socketA)).as("the number registered for A").isEqualTo(fdA);

            jdkA.close(); // b's descriptor was taken before: the next accept gets A's channel's number
            b.connect(server.address());
            Connection connB = started.poll(10, TimeUnit.SECONDS);
            assertThat(ConnectionFd.of(connB)).as("B's socket took A's number").isEqualTo(fdA);

            byte[] secret = "for A only".getBytes(StandardCharsets.US_ASCII);
            assertThatThrownBy(() -> connA.write(secret, 0, secret.length)).isInstanceOf(IOException.class);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !connA.isOpen());
            assertThat(a.awaitClosedByServer()).isTrue();
            b.socket().setSoTimeout(10_000);
            b.socket().getOutputStream().write(Echo.frame(new byte[] {7}));
            assertThat(b.socket().getInputStream().readNBytes(5)).as("B's peer gets its own echo, nothing of A's")
                    .containsExactly(Echo.frame(new byte[] {7}));
            assertThat(connB.isOpen()).isTrue();
        } finally {
            EpollPoller.faults = null;
            Echo.stop(server);
        }
    }

    @Test
    void aConnectionOfAChannelTheApplicationHoldsWorksOnADuplicateThatTheChannelsCloseLeavesNamingItsSocket()
            throws Exception {
        // Connection.of: the application holds the JDK channel too, and may close it with the JDK's
        // close() (a try-with-resources block ending first, say). The kernel then gives its number
        // to the next socket opened, here B's. A call of stcp's that had passed its check before
        // that close must still reach A's socket: stcp works on a duplicate of A's descriptor.
        BlockingQueue<Integer> registered = recordRegistrations();
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                SocketChannel a = SocketChannel.open(listener.getLocalAddress());
                SocketChannel peerA = listener.accept()) {
            int channelFdA = Fds.of(a);
            String socketA = Files.readSymbolicLink(Path.of("/proc/self/fd/" + channelFdA)).toString();
            Connection connA = Connection.of(a);
            int stcpFdA = registeredFor(registered, socketA);
            assertThat(stcpFdA).as("a duplicate").isNotEqualTo(channelFdA);

            a.close(); // the application's own close of the channel it handed over
            try (SocketChannel b = SocketChannel.open(listener.getLocalAddress()); SocketChannel peerB = listener.accept()) {
                assertThat(Fds.of(b)).as("B's socket took A's channel's number").isEqualTo(channelFdA);

                byte[] secret = "for A only".getBytes(StandardCharsets.US_ASCII);
                assertThat(SocketSyscalls.INSTANCE.write(stcpFdA, secret, 0, secret.length)).isEqualTo(secret.length);
                peerA.socket().setSoTimeout(10_000);
                assertThat(peerA.socket().getInputStream().readNBytes(secret.length)).as("A's peer")
                        .isEqualTo(secret);
                assertThat(peerB.socket().getInputStream().available()).as("nothing for B's peer").isZero();
                assertThat(b.socket().getInputStream().available()).as("nothing for B").isZero();

                // The connection finds its channel closed at its next call, and closes: the duplicate too.
                assertThatThrownBy(() -> connA.write(secret, 0, secret.length)).isInstanceOf(IOException.class);
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !connA.isOpen());
                assertThat(peerA.socket().getInputStream().read()).as("A's peer sees the close").isEqualTo(-1);
            }
        } finally {
            EpollPoller.faults = null;
        }
    }

    /**
     * An idle connection costs the process one descriptor, its socket's, as on Netty's epoll
     * transport: at one open-file limit the server holds as many connections. The descriptors of
     * this process are counted as the kernel lists them, before the clients connect and once all
     * their connections have started; each client's own socket is one more in this JVM, so each
     * connection adds two (three when stcp held a duplicate of its socket's descriptor).
     */
    @Test
    void eachConnectionHoldsOneDescriptorOfTheServers() throws Exception {
        int n = 200;
        AtomicInteger startedCount = new AtomicInteger();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> startedCount.incrementAndGet()).start();
        List<SocketChannel> clients = new ArrayList<>();
        try {
            long before = openDescriptors();
            for (int i = 0; i < n; i++) {
                clients.add(SocketChannel.open(server.address()));
            }
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> startedCount.get() == n);
            long added = openDescriptors() - before;
            // Other tests' leftovers closing, a log file, a class path jar: a few either way.
            assertThat(added).as("descriptors for %d clients and their connections", n).isBetween(2L * n - 20, 2L * n + 20);
        } finally {
            for (SocketChannel c : clients) {
                c.close();
            }
            Echo.stop(server);
        }
    }

    private static long openDescriptors() throws IOException {
        try (java.util.stream.Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** The numbers registered from now on, in turn, as the poller's fault hook sees them (reset it after). */
    private static BlockingQueue<Integer> recordRegistrations() {
        BlockingQueue<Integer> registered = new LinkedBlockingQueue<>();
        EpollPoller.faults = new EpollPoller.Faults() {
            @Override
            public void beforeRegister(int fd) {
                registered.add(fd);
            }
        };
        return registered;
    }

    /**
     * The first number registered that names {@code socket} ({@code socket:[inode]}). Numbers registered for other sockets meanwhile (a connection of an earlier test
     * of this JVM still being opened, say) are passed over: the poller's fault hook is the JVM's.
     */
    private static int registeredFor(BlockingQueue<Integer> registered, String socket) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Integer fd = registered.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(fd).as("a registration of " + socket).isNotNull();
            try {
                if (Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString().equals(socket)) {
                    return fd;
                }
            } catch (java.nio.file.NoSuchFileException closedSince) {
                // another socket's, closed since
            }
        }
    }
}
