package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestCerts;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLSocket;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A graceful close ({@code closeAfterFlush}) on another thread than the reader's meeting an exit, a
 * server's or client's shutdown, a quiet peer, TLS, or a second close with a shorter timeout. Both
 * transports: stcp-epoll runs it again.
 */
class GracefulCloseMeetsEndsTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void anExitDuringADrainThatBlocksEndsTheConnectionAtOnce() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection"); SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).build(p.server);
            ConnectionRunner runner = startWaiting(sender);
            CompletableFuture<Integer> discarded = closeBlocked(sender);

            long exitAt = System.nanoTime();
            runner.exit();
            assertThat(runner.awaitExit(WAIT)).isTrue();
            long exited = System.nanoTime();
            int count = discarded.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(exited - exitAt)).isLessThan(Duration.ofSeconds(1));
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
            assertCountedOnce(logs, count, sender.stats().discarded());
        }
    }

    @Test
    void aShutdownWithManyBlockedClosesReturnsWithinItsGraceAndBound() throws Exception {
        int n = 4;
        BlockingQueue<Connection> exits = new LinkedBlockingQueue<>();
        List<Sender> closing = new CopyOnWriteArrayList<>();
        ConnectionReader reader = (sender, conn) -> {
            int k = conn.readInt();
            closing.add(sender);
            for (int i = 0; i < k; i++) {
                sender.put(new byte[1 << 20]);
            }
            Thread.ofPlatform().start(() -> sender.closeAfterFlush(Duration.ofSeconds(60)));
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, QueueSender.options().capacity(100).maxBytes(0)::build)
                .onConnectionExit(s -> exits.add(s.connection()))
                .start();
        List<Socket> peers = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Socket peer = new Socket();
                peers.add(peer);
                peer.connect(new InetSocketAddress(server.address().getAddress(), server.address().getPort()));
                OutputStream out = peer.getOutputStream();
                out.write(new byte[] {0, 0, 0, 12});
                out.flush();
            }
            Awaitility.await().atMost(WAIT).until(() -> closing.size() == n && closing.stream().allMatch(Sender::isClosed));
            long start = System.nanoTime();
            boolean clean = server.shutdown(Duration.ofMillis(300));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(clean).isFalse();
            assertThat(took).isLessThan(Duration.ofSeconds(5));
            for (int i = 0; i < n; i++) {
                Connection c = exits.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(c).isNotNull();
                assertThat(c.closeReason()).isEqualTo(CloseReason.CLOSED);
            }
        } finally {
            for (Socket s : peers) {
                s.close();
            }
            Echo.stop(server);
        }
    }

    /**
     * The reader's end reads for a close on another thread that still drains, the peer quiet (it
     * reads nothing for a while, then everything): quiet does not end that close, which writes every
     * reply, sends the FIN and ends at once, the peer idle.
     */
    @Test
    void aQuietPeerDoesNotEndACloseThatStillDrains() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).build(p.server);
            ConnectionRunner runner = startWaiting(sender);
            int replies = 12;
            for (int i = 0; i < replies; i++) {
                sender.put(new byte[1 << 20]); // more than the socket buffers hold
            }
            CompletableFuture<Integer> discarded = new CompletableFuture<>();
            CompletableFuture<Long> closedAt = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                discarded.complete(sender.closeAfterFlush(WAIT));
                closedAt.complete(System.nanoTime());
            });
            Awaitility.await().atMost(WAIT).until(sender::isClosed);
            // the peer stays quiet, reading nothing, for several of the reader's quiet limits
            Awaitility.await().pollDelay(Duration.ofMillis(800)).atMost(WAIT).until(() -> true);
            assertThat(closedAt).isNotDone();

            ByteBuffer in = ByteBuffer.allocate(1 << 16);
            long read = 0;
            int n;
            while ((n = p.client.read(in.clear())) >= 0) {
                read += n;
            }
            long finAt = System.nanoTime();
            assertThat(read).isEqualTo((long) replies << 20);
            assertThat(discarded.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isZero();
            // the peer idle: no linger, not its 2 s
            assertThat(Duration.ofNanos(closedAt.get() - finAt)).isLessThan(Duration.ofMillis(1200));
            assertThat(runner.awaitExit(WAIT)).isTrue();
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
        }
    }

    /** Over TLS: the close on another thread lingers (close_notify and FIN sent) while the reader is busy; it ends once the reader, done, finds the peer quiet. */
    @Test
    void overTlsACloseThatLingersBeforeTheReaderGoesIdleEndsOnceThePeerIsQuiet() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<Thread> closer = new AtomicReference<>();
        CompletableFuture<Long> closedAt = new CompletableFuture<>();
        BlockingQueue<Connection> exits = new LinkedBlockingQueue<>();
        ConnectionReader reader = (s, conn) -> {
            s.put(ByteBuffer.allocate(4).putInt(conn.readInt() + 1).array());
            closer.set(Thread.ofPlatform().name("closer").start(() -> {
                s.closeAfterFlush(WAIT);
                closedAt.complete(System.nanoTime());
            }));
            release.await(); // busy with the request, not waiting for input
        };
        TestCerts certs = TestCerts.get();
        TcpServer server = TcpServer.create(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(),
                        reader, SenderFactory.queue(8))
                .onConnectionExit(s -> exits.add(s.connection()))
                .start();
        try (Socket plain = new Socket("127.0.0.1", server.address().getPort())) {
            plain.setSoTimeout((int) WAIT.toMillis());
            SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                    .createSocket(plain, "localhost", server.address().getPort(), false);
            tls.getOutputStream().write(new byte[] {0, 0, 0, 41});
            DataInputStream in = new DataInputStream(tls.getInputStream());
            assertThat(in.readInt()).isEqualTo(42);
            assertThat(in.read()).as("close_notify after the reply").isEqualTo(-1);
            Awaitility.await().atMost(WAIT).until(() -> closer.get().getState() == Thread.State.TIMED_WAITING);
            long releasedAt = System.nanoTime();
            release.countDown();
            long closed = closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(closed - releasedAt)).isLessThan(Duration.ofMillis(1200));
            Connection c = exits.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(c).isNotNull();
            assertThat(c.closeReason()).isEqualTo(CloseReason.CLOSED);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A client's shutdown during a close on another thread that the server does not read: it returns
     * within its grace and bound, the close's reason kept. What was not written is counted once, by
     * the close or by the shutdown's end of the connection (its exit line), whichever took it: the
     * shutdown's close of the sender takes what is queued, and the batch its close made fail goes to
     * whichever looks after that write has counted it, so the close may be told 0.
     */
    @Test
    void aClientShutdownDuringABlockedCloseReturnsWithinItsGraceAndBound() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.connection");
             ServerSocket deaf = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            AtomicReference<Sender> connected = new AtomicReference<>();
            BlockingQueue<CloseReason> disconnects = new LinkedBlockingQueue<>();
            TcpClient client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + deaf.getLocalPort()).build(),
                            (sender, conn) -> conn.readInt(), QueueSender.options().capacity(100).maxBytes(0)::build)
                    .onConnect(connected::set)
                    .onDisconnect((s, reason) -> disconnects.add(reason))
                    .start();
            try (Socket peer = deaf.accept()) {
                Awaitility.await().atMost(WAIT).until(() -> connected.get() != null);
                QueueSender sender = (QueueSender) connected.get();
                for (int i = 0; i < 12; i++) {
                    sender.put(new byte[1 << 20]); // the server reads none
                }
                CompletableFuture<Integer> discarded = new CompletableFuture<>();
                Thread.ofPlatform().start(() -> discarded.complete(sender.closeAfterFlush(Duration.ofSeconds(60))));
                Awaitility.await().atMost(WAIT).until(sender::isClosed);

                long start = System.nanoTime();
                boolean clean = client.shutdown(Duration.ofMillis(300));
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                assertThat(clean).isFalse();
                assertThat(took).isLessThan(Duration.ofSeconds(5));
                int count = discarded.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(disconnects.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(CloseReason.CLOSED);
                QueueSender.Stats stats = sender.stats();
                assertThat(stats.discarded()).as("12 MiB, more than the socket buffers hold, the peer reading none").isPositive();
                assertThat(stats.written() + stats.discarded()).isEqualTo(12);
                assertCountedOnce(logs, count, stats.discarded());
            } finally {
                client.close();
                assertThat(client.awaitTermination(WAIT)).isTrue();
            }
        }
    }

    /**
     * A second close whose timeout is shorter than the first's cuts the first short at its own
     * deadline, and then waits for the first to be over, as a later call does: the first drained,
     * and is told what its drain discarded; the second, 0. The second returned at its deadline,
     * before the first, and its close of the sender took the count.
     */
    @Test
    void aSecondCloseThatCutsTheFirstShortLeavesItTheCount() throws Exception {
        for (int round = 0; round < 5; round++) {
            try (SocketPair p = SocketPair.open()) {
                QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).build(p.server);
                ConnectionRunner runner = startWaiting(sender);
                CompletableFuture<Integer> first = closeBlocked(sender);

                int second = sender.closeAfterFlush(Duration.ofMillis(100));
                assertThat(second).as("round %d: the second's count", round).isZero();
                assertThat(first.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("round %d: the first's count", round).isPositive()
                        .isEqualTo(sender.stats().discarded());
                assertThat(runner.awaitExit(WAIT)).isTrue();
            }
        }
    }

    /** What the sender discarded, {@code discarded} in all, was counted once: by the close, which was told {@code count}, or in the one exit line. */
    private static void assertCountedOnce(LogCapture logs, int count, long discarded) {
        List<ILoggingEvent> exits = logs.events("conn.exit");
        assertThat(exits).hasSize(1);
        Object logged = LogCapture.fields(exits.get(0)).getOrDefault("discarded", 0);
        assertThat(count + ((Number) logged).longValue()).as("closeAfterFlush %d + exit line %s", count, logged)
                .isEqualTo(discarded);
    }

    /** A runner for {@code sender}'s connection whose reader waits for input, which does not come (its wait ends as a close begins); started, and waiting. */
    private static ConnectionRunner startWaiting(QueueSender sender) throws InterruptedException {
        CountDownLatch reading = new CountDownLatch(1);
        ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
            reading.countDown();
            conn.readInt();
        }, sender);
        runner.start();
        assertThat(reading.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return runner;
    }

    /** Queues far more than the socket buffers hold, which the peer does not read, and has another thread close {@code sender} after flushing it; returns once that close has begun. */
    private static CompletableFuture<Integer> closeBlocked(QueueSender sender) {
        for (int i = 0; i < 40; i++) {
            sender.put(new byte[1 << 20]);
        }
        CompletableFuture<Integer> discarded = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> discarded.complete(sender.closeAfterFlush(WAIT)));
        Awaitility.await().atMost(WAIT).until(sender::isClosed);
        return discarded;
    }
}
