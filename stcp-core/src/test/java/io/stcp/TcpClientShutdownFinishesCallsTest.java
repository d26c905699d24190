package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.TestCerts;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client's graceful shutdown, as a server's: a reader call in progress — one handling a message
 * from the server — runs to its return and its reply is written before the connection closes; a
 * client whose reader waits between messages shuts down at once; a call that never returns is
 * ended at the deadline. Servers on loopback speak 4-byte length-prefixed frames. Both transports:
 * this suite runs again in stcp-epoll's build.
 */
class TcpClientShutdownFinishesCallsTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** Never reached by a test that passes; shorter than the JUnit timeout (60 s), so a wait for it fails as itself. */
    private static final Duration GRACE = Duration.ofSeconds(30);

    private final BlockingQueue<String> serverReceived = new LinkedBlockingQueue<>();
    private final BlockingQueue<CloseReason> serverExits = new LinkedBlockingQueue<>();
    private final List<TcpServer> servers = new ArrayList<>();
    private final List<TcpClient> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (TcpClient c : clients) {
            c.close();
            assertThat(c.awaitTermination(WAIT)).isTrue();
        }
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    /** A server that sends {@code greeting} (if not null) to each client as it connects, and keeps what it reads. */
    private TcpServer server(ServerConfig.Builder config, String greeting) throws Exception {
        TcpServer s = TcpServer.create(config.build(),
                        (sender, conn) -> serverReceived.add(new String(conn.readBytes(conn.readInt()), UTF_8)),
                        SenderFactory.queue(16))
                .onConnectionStart(sender -> {
                    if (greeting != null) {
                        sender.put(frame(greeting));
                    }
                })
                .onConnectionExit(sender -> serverExits.add(sender.connection().closeReason()))
                .start();
        servers.add(s);
        return s;
    }

    /** A client, not started yet. */
    private TcpClient client(ClientConfig config, ConnectionReader reader) {
        TcpClient c = TcpClient.create(config, reader, SenderFactory.queue(16));
        clients.add(c);
        return c;
    }

    private static ClientConfig.Builder to(TcpServer server) {
        return to(server.address().getPort());
    }

    private static ClientConfig.Builder to(int port) {
        return ClientConfig.builder("127.0.0.1:" + port);
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    private static CompletableFuture<Boolean> shutdownInBackground(TcpClient client, Duration grace) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                result.complete(client.shutdown(grace));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    /** The shutdown has reached {@code conn}: it records its reason first, before it touches the sender. */
    private static void awaitShutdownReached(Connection conn) {
        Awaitility.await().atMost(WAIT).until(() -> conn.closeReason() == CloseReason.SHUTDOWN);
    }

    /** A reader that, for each message, waits for {@code release} and then replies "re: " and the message. */
    private static ConnectionReader heldReply(AtomicReference<Connection> held, CountDownLatch read,
                                              CountDownLatch release) {
        return (sender, conn) -> {
            String message = new String(conn.readBytes(conn.readInt()), UTF_8);
            held.set(conn);
            read.countDown();
            release.await(); // the test shuts the client down meanwhile
            sender.put(frame("re: " + message));
        };
    }

    @Test
    void aReaderHandlingAMessageWhenTheShutdownBeginsQueuesItsReplyWhichIsWrittenBeforeTheClose() throws Exception {
        TcpServer server = server(Echo.loopback(), "Hello");
        AtomicReference<Connection> held = new AtomicReference<>();
        AtomicReference<Sender> connected = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BlockingQueue<CloseReason> disconnects = new LinkedBlockingQueue<>();
        TcpClient client = client(to(server).build(), heldReply(held, read, release))
                .onConnect(connected::set)
                .onDisconnect((s, reason) -> disconnects.add(reason))
                .start();
        try {
            assertThat(read.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            CompletableFuture<Boolean> shutdown = shutdownInBackground(client, GRACE);
            awaitShutdownReached(held.get());
            assertThat(shutdown).isNotDone(); // it waits for the call in progress
            // Until the call returns, its connection's sender takes puts from other threads too; the
            // client itself is closed, so its own puts fail.
            connected.get().put(frame("meanwhile"));
            assertThatThrownBy(() -> client.put(frame("late"))).isInstanceOf(NotConnectedException.class)
                    .hasMessageContaining("client closed");
            release.countDown();

            assertThat(serverReceived.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("meanwhile");
            assertThat(serverReceived.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the reply").isEqualTo("re: Hello");
            assertThat(serverExits.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as("then the client's orderly end")
                    .isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("nothing discarded").isTrue();
            assertThat(disconnects.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(CloseReason.SHUTDOWN);
            assertThat(client.termination()).isCompleted();
            assertThat(client.connectCount()).as("no reconnect").isOne();
        } finally {
            release.countDown();
        }
    }

    @Test
    void aReaderWaitingForTheRestOfAMessageReadsItAndRepliesDuringTheShutdown() throws Exception {
        AtomicReference<Sender> serverSide = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(),
                        (sender, conn) -> serverReceived.add(new String(conn.readBytes(conn.readInt()), UTF_8)),
                        SenderFactory.queue(16))
                .onConnectionStart(sender -> {
                    serverSide.set(sender);
                    sender.put(ByteBuffer.allocate(6).putInt(5).put("He".getBytes(UTF_8)).array()); // a part of "Hello"
                })
                .onConnectionExit(sender -> serverExits.add(sender.connection().closeReason()))
                .start();
        servers.add(server);
        AtomicReference<Connection> midMessage = new AtomicReference<>();
        CountDownLatch lengthRead = new CountDownLatch(1);
        TcpClient client = client(to(server).build(), (sender, conn) -> {
            int length = conn.readInt();
            midMessage.set(conn);
            lengthRead.countDown();
            String message = new String(conn.readBytes(length), UTF_8); // waits for the rest
            sender.put(frame("re: " + message));
        }).start();
        assertThat(lengthRead.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Boolean> shutdown = shutdownInBackground(client, GRACE);
        awaitShutdownReached(midMessage.get());
        assertThat(shutdown).isNotDone();
        serverSide.get().put("llo".getBytes(UTF_8));

        assertThat(serverReceived.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the reply").isEqualTo("re: Hello");
        assertThat(serverExits.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
        assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }

    /**
     * The shutdown lands while an offline backlog far larger than the sockets' buffers is being
     * handed to the new connection and the reader is in the middle of a message: the hand-over is
     * finished (within the grace) while the reader reads on, the reader's reply is written, and
     * so is the whole backlog.
     */
    @Test
    void aShutdownDuringTheOfflineHandOverLetsTheReaderReplyAndFinishesTheHandOver() throws Exception {
        int n = 400;
        byte[] big = Echo.frame(new byte[64 * 1024]); // 26 MB in all
        int port;
        try (ServerSocketChannel probe = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            port = ((InetSocketAddress) probe.getLocalAddress()).getPort(); // nobody listens on it once closed
        }
        CountDownLatch lengthRead = new CountDownLatch(1);
        TcpClient client = TcpClient.create(to(port).reconnectDelay(Duration.ofMillis(5))
                .reconnectMaxDelay(Duration.ofMillis(50)).offlineQueue(n, 0).build(), (sender, conn) -> {
                    int length = conn.readInt();
                    lengthRead.countDown();
                    String message = new String(conn.readBytes(length), UTF_8); // waits for the rest
                    sender.put(frame("re: " + message));
                }, SenderFactory.queue(1));
        clients.add(client);
        client.start();
        for (int i = 0; i < n; i++) {
            client.put(big);
        }
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port));
             SocketChannel peer = listener.accept()) {
            peer.write(ByteBuffer.allocate(6).putInt(5).put("He".getBytes(UTF_8)).flip());
            assertThat(lengthRead.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(client.isConnected()).as("the hand-over goes on: the server reads nothing yet").isFalse();

            CompletableFuture<Boolean> shutdown = shutdownInBackground(client, GRACE);
            // begun (the client is closed to puts); the connection is shut once the hand-over is done
            Awaitility.await().atMost(WAIT).untilAsserted(() -> assertThatThrownBy(() -> client.put(frame("late")))
                    .isInstanceOf(NotConnectedException.class).hasMessageContaining("client closed"));
            assertThat(shutdown).isNotDone();
            peer.write(ByteBuffer.wrap("llo".getBytes(UTF_8)));

            CompletableFuture<List<Integer>> frames = readFramesToEnd(peer);
            List<Integer> lengths = frames.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            long backlog = lengths.stream().filter(l -> l == big.length - 4).count();
            assertThat(lengths).as("the reply, among the backlog").contains("re: Hello".length());
            assertThat(backlog).as("the whole backlog").isEqualTo(n);
            assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all written").isTrue();
        }
    }

    /** Reads length-prefixed frames from {@code peer} until its end, on a thread of its own: their lengths. */
    private static CompletableFuture<List<Integer>> readFramesToEnd(SocketChannel peer) {
        CompletableFuture<List<Integer>> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            List<Integer> lengths = new ArrayList<>();
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(peer), 1 << 16))) {
                while (true) {
                    int length;
                    try {
                        length = in.readInt();
                    } catch (EOFException end) {
                        break;
                    }
                    in.readFully(new byte[length]);
                    lengths.add(length);
                }
                result.complete(lengths);
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    @Test
    void anIdleClientShutsDownAtOnceWhetherItsReaderHasHandledAMessageOrNot() throws Exception {
        TcpServer greeting = server(Echo.loopback(), "hi");
        assertShutsDownAtOnce(greeting, to(greeting), true);
        TcpServer silent = server(Echo.loopback(), null);
        assertShutsDownAtOnce(silent, to(silent), false);
    }

    @Test
    void anIdleTlsClientShutsDownAtOnceWhetherItsReaderHasHandledAMessageOrNot() throws Exception {
        // Over TLS 1.3 the server's session tickets come after the handshake: the reader's first
        // call reads them, which is no part of a message, and it rests all the same.
        TestCerts certs = TestCerts.get();
        TlsConfig serverTls = TlsConfig.fromPem(certs.serverCert, certs.serverKey);
        TlsConfig clientTls = TlsConfig.clientBuilder().trustPem(certs.caCert).build();
        TcpServer greeting = server(Echo.loopback().tls(serverTls), "hi");
        assertShutsDownAtOnce(greeting, to(greeting).tls(clientTls), true);
        TcpServer silent = server(Echo.loopback().tls(serverTls), null);
        assertShutsDownAtOnce(silent, to(silent).tls(clientTls), false);
    }

    /**
     * A client of {@code server}, idle: its reader has handled the server's greeting and waits
     * between calls ({@code greeted}; suspended, on a transport that can), or its first call has
     * read nothing. It shuts down at once, not after the grace, nothing discarded, and the server
     * reads its orderly end.
     */
    private void assertShutsDownAtOnce(TcpServer server, ClientConfig.Builder config, boolean greeted) throws Exception {
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        TcpClient client = client(config.build(), (s, c) -> got.add(new String(c.readBytes(c.readInt()), UTF_8))).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        if (greeted) {
            assertThat(got.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("hi");
        }
        long start = System.nanoTime();
        assertThat(client.shutdown(GRACE)).isTrue();
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(took).as("an idle client's shutdown").isLessThan(GRACE.dividedBy(3));
        assertThat(serverExits.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(CloseReason.PEER_CLOSED);
        Awaitility.await().atMost(WAIT).until(() -> server.connectionCount() == 0);
    }

    @Test
    void aReaderCallThatNeverReturnsIsEndedAtTheDeadlineAndTheShutdownSaysSo() throws Exception {
        TcpServer server = server(Echo.loopback(), "Hello");
        AtomicReference<Thread> readerThread = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        TcpClient client = client(to(server).build(), (sender, conn) -> {
            conn.readBytes(conn.readInt());
            readerThread.set(Thread.currentThread());
            read.countDown();
            never.await(); // until the forced close interrupts it
            sender.put(frame("too late"));
        }).start();
        try {
            assertThat(read.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            Duration grace = Duration.ofMillis(500);
            long start = System.nanoTime();
            assertThat(client.shutdown(grace)).as("a call was cut short").isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(grace);
            assertThat(client.termination()).isCompleted();
            assertThat(serverExits.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isNotNull();
            Awaitility.await().atMost(WAIT).until(() -> !readerThread.get().isAlive());
            assertThat(serverReceived).isEmpty();
            // LeakCheck fails the test if any other stcp thread is left.
        } finally {
            never.countDown();
        }
    }

    @Test
    void aCloseDuringTheShutdownEndsTheCallInProgressAtOnce() throws Exception {
        TcpServer server = server(Echo.loopback(), "Hello");
        AtomicReference<Connection> held = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TcpClient client = client(to(server).build(), heldReply(held, read, release)).start();
        try {
            assertThat(read.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Boolean> shutdown = shutdownInBackground(client, GRACE);
            awaitShutdownReached(held.get());
            assertThat(shutdown).isNotDone();

            long start = System.nanoTime();
            client.close(); // interrupts the reader's call
            // Its reply was never queued, and nothing queued was discarded.
            assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(GRACE.dividedBy(3));
            assertThat(client.termination()).isCompleted();
            assertThat(serverExits.poll(WAIT.toSeconds(), TimeUnit.SECONDS)).isNotNull();
            assertThat(serverReceived).isEmpty();
        } finally {
            release.countDown();
        }
    }
}
