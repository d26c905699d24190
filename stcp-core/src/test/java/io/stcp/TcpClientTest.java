package io.stcp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.Shutter;
import io.stcp.testing.SilentListener;
import io.stcp.testing.TestNames;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The reconnecting client against real servers on loopback: 4-byte length-prefixed frames, echoed. */
class TcpClientTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    private final List<TcpServer> servers = new ArrayList<>();
    private TcpClient client;

    /** The client's reader: collects every frame the server sends. */
    private final ConnectionReader collect = (sender, conn) -> received.add(new String(conn.readBytes(conn.readInt()), UTF_8));

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
            assertThat(client.awaitTermination(WAIT)).isTrue();
        }
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    private TcpServer echoServer(String address) throws Exception {
        TcpServer s = TcpServer.create(ServerConfig.builder().address(address).build(), Echo.READER,
                SenderFactory.queue(1024)).start();
        servers.add(s);
        return s;
    }

    private static ClientConfig.Builder fastReconnect(String address) {
        return ClientConfig.builder(address).reconnectDelay(Duration.ofMillis(5)).reconnectMaxDelay(Duration.ofMillis(50));
    }

    private static byte[] frame(String text) {
        return Echo.frame(text.getBytes(UTF_8));
    }

    private String next() throws InterruptedException {
        String s = received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(s).as("a frame within %s", WAIT).isNotNull();
        return s;
    }

    /** A loopback port nobody listens on (as long as nobody else takes it meanwhile). */
    private static int deadPort() throws Exception {
        try (ServerSocketChannel ch = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            return ((InetSocketAddress) ch.getLocalAddress()).getPort();
        }
    }

    @Test
    void runsAServerStyleReaderSenderAndHooksOnItsConnection() throws Exception {
        TcpServer server = echoServer("127.0.0.1:0");
        List<String> events = new CopyOnWriteArrayList<>();
        CountDownLatch disconnected = new CountDownLatch(1);
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort()).build(), collect,
                        SenderFactory.queue(64))
                .onConnect(s -> {
                    events.add("connect");
                    s.put(frame("hello")); // a login would go here
                })
                .onDisconnect((s, reason) -> {
                    events.add("disconnect " + reason);
                    disconnected.countDown();
                })
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        assertThat(next()).isEqualTo("hello");
        client.put(frame("a"));
        client.sender().put(frame("b"));
        assertThat(next()).isEqualTo("a");
        assertThat(next()).isEqualTo("b");
        assertThat(client.connectCount()).isEqualTo(1);
        assertThatThrownBy(client::start).isInstanceOf(IllegalStateException.class);

        client.close();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThat(disconnected.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(events).containsExactly("connect", "disconnect CLOSED");
        assertThat(client.isConnected()).isFalse();
        assertThatThrownBy(client::sender).isInstanceOf(NotConnectedException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> client.put(frame("late"))).isInstanceOf(NotConnectedException.class);
    }

    @Test
    void reconnectsWhenTheServerIsKilledAndRestartedOnTheSamePortAndTrafficResumes() throws Exception {
        TcpServer first = echoServer("127.0.0.1:0");
        int port = first.address().getPort();
        BlockingQueue<CloseReason> disconnects = new LinkedBlockingQueue<>();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).build(), collect, SenderFactory.queue(64))
                .onDisconnect((s, reason) -> disconnects.add(reason))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("before"));
        assertThat(next()).isEqualTo("before");

        Echo.stop(first); // the server goes away: the connection ends, then connects fail for a while
        servers.remove(first);
        assertThat(disconnects.poll(10, TimeUnit.SECONDS)).isNotNull();
        assertThatThrownBy(() -> client.put(frame("lost"))).isInstanceOf(NotConnectedException.class);

        echoServer("127.0.0.1:" + port); // back on the same port
        Awaitility.await().atMost(WAIT).until(() -> client.connectCount() == 2 && client.isConnected());
        client.put(frame("after"));
        assertThat(next()).isEqualTo("after");
    }

    @Test
    void whileOfflineMessagesWaitInABoundedQueueAndFollowTheConnectHooksMessages() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(3, 0).build(), collect,
                        SenderFactory.queue(64))
                .onConnect(s -> s.put(frame("login")))
                .start();
        client.put(frame("a"));
        client.put(1, frame("b"));
        client.put("k", frame("c"));
        assertThatThrownBy(() -> client.put(frame("d"))).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("offline queue full");
        assertThatThrownBy(client::sender).isInstanceOf(NotConnectedException.class);

        echoServer("127.0.0.1:" + port);
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("e"));
        assertThat(List.of(next(), next(), next(), next(), next())).containsExactly("login", "a", "b", "c", "e");
    }

    /**
     * While offline, a String key counts two bytes a char against the offline queue's byte limit
     * with its message: large keys with tiny messages are refused once it is reached, and the rest
     * is written when a connection comes up, to a conflating sender that counts the keys too.
     */
    @Test
    void offlineKeysCountAgainstTheOfflineByteLimit() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(100, 1_000).build(), collect,
                        c -> QueueSender.options().conflating(true).maxBytes(1_000).build(c))
                .start();
        assertThatThrownBy(() -> client.put("k".repeat(500), frame("x"))).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("with a key counted as 1000 exceeds the offline queue's byte limit of 1000");
        client.put("a".repeat(200), frame("a"));
        client.put("b".repeat(200), frame("b"));
        assertThatThrownBy(() -> client.put("c".repeat(200), frame("c"))).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("offline queue full (2 messages");
        client.put(frame("d"));

        echoServer("127.0.0.1:" + port);
        assertThat(List.of(next(), next(), next())).containsExactly("a", "b", "d");
        assertThat(client.awaitConnected(WAIT)).isTrue();
        assertThatThrownBy(() -> client.put("k".repeat(500), frame("x"))).isInstanceOf(QueueFullException.class)
                .hasMessageContaining("with a key counted as 1000 exceeds the sender's byte limit of 1000");
        assertThat(client.offlineDropped()).isZero();
    }

    @Test
    void anOfflineQueueLargerThanTheSendersIsWrittenAsTheSenderDrains() throws Exception {
        int port = deadPort();
        int n = 500;
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(n, 0).build(), collect,
                        SenderFactory.queue(8))
                .start();
        for (int i = 0; i < n; i++) {
            client.put(frame("m" + i));
        }
        echoServer("127.0.0.1:" + port);
        for (int i = 0; i < n; i++) {
            assertThat(next()).isEqualTo("m" + i);
        }
    }

    /**
     * A message kept offline that the next connection's sender refuses — larger than its byte
     * limit — can be written on no connection: it is counted, and the rest of the backlog goes out.
     */
    @Test
    void anOfflineMessageTheNextSenderRefusesIsCountedAndTheRestIsWritten() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        c -> QueueSender.options().maxBytes(64).build(c))
                .start();
        client.put(frame("a"));
        client.put(frame("x".repeat(100))); // kept: the offline queue has no byte limit
        client.put(frame("b"));
        assertThat(client.offlineDropped()).isZero();

        echoServer("127.0.0.1:" + port);
        assertThat(List.of(next(), next())).containsExactly("a", "b");
        Awaitility.await().atMost(WAIT).until(() -> client.offlineDropped() == 1);
        client.put(frame("c"));
        assertThat(next()).isEqualTo("c");
        assertThat(client.offlineDropped()).isEqualTo(1);
    }

    /**
     * A sender of the user's whose put of the offline backlog waits for ever, ignoring its close and
     * interrupts: the client's close does not wait for the hand-over for ever (it is left behind
     * with a WARN line).
     */
    @Test
    void aHandOverStuckInASenderThatIgnoresItsCloseDoesNotHoldUpTheClientsClose() throws Exception {
        int port = deadPort();
        CountDownLatch released = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        TcpClient c = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        conn -> new Stubborn(QueueSender.create(conn, 8), released, stuck))
                .start();
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            c.put(frame("stuck"));
            echoServer("127.0.0.1:" + port);
            assertThat(stuck.await(10, TimeUnit.SECONDS)).isTrue();
            c.close();
            assertThat(c.awaitTermination(WAIT)).as("closed without the hand-over").isTrue();
            assertThat(logs.events("client.offline.stuck")).hasSize(1);
        } finally {
            released.countDown();
            c.close();
        }
    }

    /**
     * A connection ends while its hand-over is stuck in a put of the user's sender that ignores the
     * close: the hand-over is left behind, and what it had not handed on goes to the next
     * connection, first and in order, not back to the offline queue whenever that put returns —
     * the next connection, up by then, would never be given it, and puts made meanwhile would go
     * ahead of it.
     */
    @Test
    void whatAHandOverLeftBehindHadNotHandedOnGoesFirstToTheNextConnection() throws Exception {
        int port = deadPort();
        CountDownLatch released = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        List<Connection> connections = new CopyOnWriteArrayList<>();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        conn -> {
                            connections.add(conn);
                            QueueSender queue = QueueSender.create(conn, 8);
                            return connections.size() == 1 ? new Stubborn(queue, released, stuck) : queue;
                        })
                .start();
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client.put(frame("stuck"));
            client.put(frame("a"));
            client.put(frame("b"));
            echoServer("127.0.0.1:" + port);
            assertThat(stuck.await(10, TimeUnit.SECONDS)).isTrue();
            connections.get(0).close(); // its hand-over stays stuck
            assertThat(client.awaitConnected(WAIT)).isTrue();
            assertThat(connections).hasSize(2);
            assertThat(logs.events("client.offline.stuck")).hasSize(1);
            client.put(frame("c"));
            assertThat(List.of(next(), next(), next(), next())).containsExactly("stuck", "a", "b", "c");
        } finally {
            released.countDown(); // the stuck put returns: it changes nothing
        }
        client.put(frame("d"));
        assertThat(next()).isEqualTo("d");
        assertThat(received.poll(200, TimeUnit.MILLISECONDS)).as("nothing twice").isNull();
    }

    /** A sender of the user's over a {@link QueueSender}: what it does on a put is the test's. */
    private abstract static class OverQueue implements Sender {
        final QueueSender queue;

        OverQueue(QueueSender queue) {
            this.queue = queue;
        }

        @Override
        public Connection connection() {
            return queue.connection();
        }

        @Override
        public int close() {
            return queue.close();
        }

        @Override
        public boolean isClosed() {
            return queue.isClosed();
        }

        @Override
        public void sendLoop() {
            queue.sendLoop();
        }

        @Override
        public boolean needsSendThread() {
            return queue.needsSendThread();
        }
    }

    /** A sender whose put of a message ending in "stuck" waits until released, whatever happens meanwhile. */
    private static final class Stubborn extends OverQueue {
        private final CountDownLatch released;
        private final CountDownLatch stuck;

        Stubborn(QueueSender queue, CountDownLatch released, CountDownLatch stuck) {
            super(queue);
            this.released = released;
            this.stuck = stuck;
        }

        @Override
        public void put(byte[] bytes) {
            if (new String(bytes, UTF_8).endsWith("stuck")) {
                stuck.countDown();
                boolean done = false;
                while (!done) {
                    try {
                        released.await();
                        done = true;
                    } catch (InterruptedException ignored) {
                        // a sender that will not be interrupted
                    }
                }
            }
            queue.put(bytes);
        }
    }

    /** A sender whose put of one message fails with something other than a SendException: a broken sender. */
    private static final class BreaksOn extends OverQueue {
        private final String poison;
        private final boolean error;

        BreaksOn(String poison, QueueSender queue) {
            this(poison, queue, false);
        }

        /** @param error throw an Error (out of memory), not an exception */
        BreaksOn(String poison, QueueSender queue, boolean error) {
            super(queue);
            this.poison = poison;
            this.error = error;
        }

        @Override
        public void put(byte[] bytes) {
            if (new String(bytes, UTF_8).endsWith(poison)) {
                if (error) {
                    throw new OutOfMemoryError("Cannot reserve " + bytes.length + " bytes of direct buffer memory");
                }
                throw new IllegalStateException("a broken sender refuses " + poison);
            }
            queue.put(bytes);
        }
    }

    @Test
    void anOfflineMessageWhosePutFailsOtherwiseIsCountedAndTheRestIsWritten() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        c -> new BreaksOn("boom", QueueSender.create(c, 8)))
                .start();
        client.put(frame("a"));
        client.put(frame("boom"));
        client.put(frame("b"));

        echoServer("127.0.0.1:" + port);
        assertThat(List.of(next(), next())).containsExactly("a", "b");
        Awaitility.await().atMost(WAIT).until(() -> client.offlineDropped() == 1);
        client.put(frame("c"));
        assertThat(next()).as("the connection was made the one that is up").isEqualTo("c");
    }

    /**
     * The same with an Error from the sender's put (out of memory, say): it costs that message
     * only. It used to end the hand-over's thread, uncaught: the rest of the backlog was never
     * written, nor counted, and stayed counted against the offline queue's limits, and the
     * connection never went up (every later put was kept offline, or refused once that was full).
     */
    @Test
    void anOfflineMessageWhosePutThrowsAnErrorIsCountedAndTheRestIsWritten() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(3, 0).build(), collect,
                        c -> new BreaksOn("boom", QueueSender.create(c, 8), true))
                .start();
        client.put(frame("a"));
        client.put(frame("boom"));
        client.put(frame("b"));

        echoServer("127.0.0.1:" + port);
        assertThat(client.awaitConnected(WAIT)).as("up once the backlog is handed over").isTrue();
        assertThat(List.of(next(), next())).containsExactly("a", "b");
        assertThat(client.offlineDropped()).isEqualTo(1);
        client.put(frame("c"));
        assertThat(next()).isEqualTo("c");
    }

    /**
     * A sender of the user's that is slow to say whether it is closed (a synchronized sender whose
     * monitor a put waiting for room holds, say): the client's puts meanwhile are kept offline at
     * once. The outbox used to ask it under its lock, so every put of the client waited behind it.
     */
    @Test
    void aSenderSlowToSayWhetherItIsClosedDoesNotHoldUpTheClientsPuts() throws Exception {
        int port = deadPort();
        CountDownLatch asked = new CountDownLatch(1);
        CountDownLatch released = new CountDownLatch(1);
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        c -> new OverQueue(QueueSender.create(c, 8)) {
                            @Override
                            public void put(byte[] bytes) {
                                queue.put(bytes);
                            }

                            @Override
                            public boolean isClosed() {
                                asked.countDown();
                                try {
                                    released.await();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                                return queue.isClosed();
                            }
                        })
                .start();
        echoServer("127.0.0.1:" + port);
        CompletableFuture<Void> put = new CompletableFuture<>();
        try {
            assertThat(asked.await(10, TimeUnit.SECONDS)).isTrue();
            Thread.ofVirtual().start(() -> {
                try {
                    client.put(frame("a")); // nothing is up yet: kept offline
                    put.complete(null);
                } catch (Throwable t) {
                    put.completeExceptionally(t);
                }
            });
            put.get(2, TimeUnit.SECONDS);
        } finally {
            released.countDown();
        }
        assertThat(client.awaitConnected(WAIT)).isTrue();
        assertThat(next()).isEqualTo("a");
    }

    /**
     * A hand-over whose sender fails other than in a put (a sender of the user's whose isClosed
     * throws) ends its connection, which would never go up, and the backlog goes to the next. It
     * used to end the hand-over's thread uncaught and leave the connection open and never up.
     */
    @Test
    void aHandOverWhoseSenderFailsEndsItsConnectionAndTheBacklogGoesToTheNext() throws Exception {
        int port = deadPort();
        AtomicInteger senders = new AtomicInteger();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                        c -> senders.incrementAndGet() > 1 ? QueueSender.create(c, 8) : new OverQueue(QueueSender.create(c, 8)) {
                            private final AtomicInteger asked = new AtomicInteger();

                            @Override
                            public void put(byte[] bytes) {
                                queue.put(bytes);
                            }

                            @Override
                            public boolean isClosed() {
                                // The first time at the last start hook, which finds the backlog; the
                                // second on the hand-over's thread, before it takes the backlog.
                                if (asked.incrementAndGet() == 2) {
                                    throw new IllegalStateException("a broken sender");
                                }
                                return queue.isClosed();
                            }
                        })
                .start();
        try (LogCapture logs = LogCapture.of("io.stcp.connection")) {
            client.put(frame("a"));
            client.put(frame("b"));
            echoServer("127.0.0.1:" + port);
            assertThat(client.awaitConnected(WAIT)).isTrue();
            assertThat(List.of(next(), next())).containsExactly("a", "b");
            assertThat(senders.get()).isEqualTo(2);
            assertThat(logs.events("conn.sender.failed")).hasSize(1);
        }
    }

    @Test
    void failsFastWhileNotConnectedByDefault() throws Exception {
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + deadPort()).reconnectDelay(Duration.ofHours(1))
                        .reconnectMaxDelay(Duration.ofHours(1)).build(), collect, SenderFactory.queue(8));
        assertThatThrownBy(() -> client.put(frame("x"))).isInstanceOf(NotConnectedException.class)
                .hasMessageContaining("not started");
        client.start();
        assertThatThrownBy(() -> client.put(frame("x"))).isInstanceOf(NotConnectedException.class)
                .hasMessageContaining("not connected to 127.0.0.1:");
        assertThat(client.awaitConnected(Duration.ofMillis(50))).isFalse();
    }

    @Test
    void givesUpAfterMaxAttemptsFailuresInARow() throws Exception {
        AtomicInteger attempts = new AtomicInteger();
        AtomicReference<Throwable> last = new AtomicReference<>();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + deadPort()).maxAttempts(3).offlineQueue(10, 0).build(),
                        collect, SenderFactory.queue(8))
                .onGiveUp((n, failure) -> {
                    attempts.set(n);
                    last.set(failure);
                })
                .start();
        client.put(frame("kept until the client gives up"));
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThat(attempts).hasValue(3);
        assertThat(last.get()).isInstanceOf(ConnectException.class);
        assertThatThrownBy(() -> client.termination().get()).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(ConnectException.class).hasMessageContaining("after 3 failed attempts");
        assertThatThrownBy(() -> client.put(frame("x"))).isInstanceOf(NotConnectedException.class)
                .hasMessageContaining("gave up");
        assertThat(client.awaitConnected(WAIT)).isFalse();
    }

    @Test
    void oneFailedAttemptIsCountedInTheSingular() throws Exception {
        int port = deadPort();
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + port).reconnectDelay(Duration.ofMinutes(1))
                        .reconnectMaxDelay(Duration.ofMinutes(1)).build(),
                collect, SenderFactory.queue(8)).start(); // after its first failure, waits a minute
        Awaitility.await().atMost(WAIT).untilAsserted(() -> assertThatThrownBy(() -> client.put(frame("x")))
                .isInstanceOf(NotConnectedException.class).hasMessageEndingWith(": reconnecting after 1 failed attempt"));
        client.close();

        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).maxAttempts(1).build(), collect,
                SenderFactory.queue(8)).start();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThatThrownBy(() -> client.termination().get()).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(ConnectException.class).hasMessageContaining("after 1 failed attempt: ");
    }

    /**
     * A name whose first address refuses (nothing listens on 127.0.0.2) and whose second is the
     * server: the dial tries the second, as Go's does, instead of failing at the first (the only
     * one tried before, so such a name never connected).
     */
    @Test
    void aHostWhoseFirstAddressRefusesConnectsThroughTheNext() throws Exception {
        int port = echoServer("127.0.0.1:0").address().getPort();
        String host = TestNames.define("first-refuses.stcp.test", "127.0.0.2", "127.0.0.1");
        client = TcpClient.create(fastReconnect(host + ":" + port).maxAttempts(1).build(), collect,
                SenderFactory.queue(8)).start();
        assertThat(client.awaitConnected(WAIT)).as("connected through the second address").isTrue();
        client.put(frame("through the second"));
        assertThat(next()).isEqualTo("through the second");
    }

    /**
     * A first address that does not answer at all (a listener whose accept queue is full: the
     * kernel drops the SYNs) holds up the second for its share of the connect timeout at most,
     * half of it with two addresses, when that is shorter than the connection attempt delay
     * (200 ms of 400, against 250): the second is tried in time.
     */
    @Test
    void anAddressThatDoesNotAnswerLeavesTheNextItsShareOfTheConnectTimeout() throws Exception {
        int port = echoServer("127.0.0.1:0").address().getPort();
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.2", port))) {
            String host = TestNames.define("first-silent.stcp.test", "127.0.0.2", "127.0.0.1");
            client = TcpClient.create(fastReconnect(host + ":" + port).connectTimeout(Duration.ofMillis(400)).maxAttempts(1)
                    .build(), collect, SenderFactory.queue(8)).start();
            assertThat(client.awaitConnected(WAIT)).as("connected through the second address").isTrue();
            client.put(frame("in time"));
            assertThat(next()).isEqualTo("in time");
        }
    }

    /**
     * Happy Eyeballs (RFC 8305): a first address that drops SYNs costs the connection attempt
     * delay (100 ms here), not its share of the connect timeout (15 s of 30): the second is tried
     * beside it then and connects. (That the first's try, still waiting, is closed then, and its
     * thread ended, HappyEyeballsTest checks: here the silent listener's close would end it within
     * a SYN retransmission, before LeakCheck looks.)
     */
    @Test
    void anAddressThatDropsSynsCostsTheConnectionAttemptDelayNotItsShareOfTheConnectTimeout() throws Exception {
        int port = echoServer("127.0.0.1:0").address().getPort();
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.2", port))) {
            String host = TestNames.define("first-drops-syns.stcp.test", "127.0.0.2", "127.0.0.1");
            long start = System.nanoTime();
            client = TcpClient.create(fastReconnect(host + ":" + port).connectTimeout(Duration.ofSeconds(30))
                    .connectionAttemptDelay(Duration.ofMillis(100)).maxAttempts(1).build(), collect, SenderFactory.queue(8))
                    .start();
            assertThat(client.awaitConnected(WAIT)).as("connected through the second address").isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the attempt delay, not 15 s")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(100)).isLessThan(Duration.ofSeconds(5));
            assertThat(((InetSocketAddress) client.sender().connection().remoteAddress()).getAddress().getHostAddress())
                    .isEqualTo("127.0.0.1");
            client.put(frame("soon"));
            assertThat(next()).isEqualTo("soon");
        }
    }

    /**
     * A fixed local port and a host of two addresses, the first dropping SYNs: the second try
     * binds the port while the first still holds it (both with SO_REUSEADDR), and connects.
     */
    @Test
    void aFixedLocalPortIsBoundByOverlappingTries() throws Exception {
        int port = echoServer("127.0.0.3:0").address().getPort();
        int localPort = deadPort();
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.2", port))) {
            String host = TestNames.define("fixed-local-port.stcp.test", "127.0.0.2", "127.0.0.3");
            client = TcpClient.create(fastReconnect(host + ":" + port).connectTimeout(Duration.ofSeconds(30))
                    .connectionAttemptDelay(Duration.ofMillis(100)).localAddress(new InetSocketAddress("127.0.0.1", localPort))
                    .maxAttempts(1).build(), collect, SenderFactory.queue(8)).start();
            assertThat(client.awaitConnected(WAIT)).isTrue();
            assertThat(((InetSocketAddress) client.sender().connection().localAddress()).getPort()).isEqualTo(localPort);
            client.put(frame("from a fixed port"));
            assertThat(next()).isEqualTo("from a fixed port");
        }
    }

    /**
     * The address families take turns (RFC 8305): of 127.0.0.2 (dropping SYNs), 127.0.0.3 and ::1,
     * the second try is at ::1, so the client connects there, though 127.0.0.3 listens too.
     */
    @Test
    void theAddressFamiliesTakeTurns() throws Exception {
        int port = echoServer("[::1]:0").address().getPort();
        echoServer("127.0.0.3:" + port);
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.2", port))) {
            String host = TestNames.define("both-families.stcp.test", "127.0.0.2", "127.0.0.3", "::1");
            client = TcpClient.create(fastReconnect(host + ":" + port).connectTimeout(Duration.ofSeconds(30))
                    .connectionAttemptDelay(Duration.ofMillis(100)).maxAttempts(1).build(), collect, SenderFactory.queue(8))
                    .start();
            assertThat(client.awaitConnected(WAIT)).isTrue();
            assertThat(((InetSocketAddress) client.sender().connection().remoteAddress()).getAddress())
                    .as("the IPv6 address, tried second").isEqualTo(InetAddress.getByName("::1"));
            client.put(frame("over ipv6"));
            assertThat(next()).isEqualTo("over ipv6");
        }
    }

    /**
     * A local address of one family dials only the host's addresses of that family: a socket
     * bound to 127.0.0.1 cannot connect to ::1, nor one bound to ::1 to 127.0.0.2. Nothing
     * listens, so the dial fails, naming only the addresses it tried. (It used to try them all,
     * each of the other family failing at once: "Address family not supported", "Network is
     * unreachable".)
     */
    @Test
    void aLocalAddressDialsOnlyTheHostsAddressesOfItsFamily() throws Exception {
        assumeIpv6Loopback();
        int port = deadPort();
        String host = TestNames.define("v6-v4-v4.stcp.test", "::1", "127.0.0.2", "127.0.0.3");
        assertThat(failureOfOneAttempt(fastReconnect(host + ":" + port).localAddress(new InetSocketAddress("127.0.0.1", 0))))
                .isInstanceOf(ConnectException.class)
                .hasMessageStartingWith("connecting to " + host + ":" + port + ": failed at each of its 2 addresses: 127.0.0.2:"
                        + port + " (java.net.ConnectException")
                .hasMessageContaining("; 127.0.0.3:" + port + " (java.net.ConnectException")
                .hasMessageNotContaining("::1");
        String host6 = TestNames.define("v4-v6-v4.stcp.test", "127.0.0.2", "::1", "127.0.0.3");
        assertThat(failureOfOneAttempt(fastReconnect(host6 + ":" + port).localAddress(new InetSocketAddress("::1", 0))))
                .as("the one IPv6 address, refused").isInstanceOf(ConnectException.class)
                .hasMessageNotContaining("127.0.0");
    }

    /**
     * A local address that can reach none of the host's addresses fails the attempt at once, saying
     * so: no socket is opened, and the error names the local address and the host's addresses.
     */
    @Test
    void aLocalAddressThatReachesNoneOfTheHostsAddressesFailsAtOnceNamingThem() throws Exception {
        assumeIpv6Loopback();
        int port = deadPort();
        String v6 = TestNames.define("only-v6.stcp.test", "::1");
        assertThat(failureOfOneAttempt(fastReconnect(v6 + ":" + port).localAddress(new InetSocketAddress("127.0.0.1", 0))))
                .isInstanceOf(ConnectException.class)
                .hasMessage("connecting to " + v6 + ":" + port + ": none of its addresses, [0:0:0:0:0:0:0:1]:" + port
                        + ", can be reached from the local address 127.0.0.1:0 (an IPv4 address connects to IPv4 addresses only)");
        String v4 = TestNames.define("only-v4.stcp.test", "127.0.0.2", "127.0.0.3");
        assertThat(failureOfOneAttempt(fastReconnect(v4 + ":" + port).localAddress(new InetSocketAddress("::1", 4321))))
                .isInstanceOf(ConnectException.class)
                .hasMessage("connecting to " + v4 + ":" + port + ": none of its addresses, 127.0.0.2:" + port + ", 127.0.0.3:"
                        + port + ", can be reached from the local address [0:0:0:0:0:0:0:1]:4321 (an IPv6 address connects"
                        + " to IPv6 addresses only)");
    }

    /**
     * A wildcard local address reaches both families: the JDK binds 0.0.0.0 as well as :: as the
     * any address of a dual-stack socket, which connects to IPv4 addresses (IPv4-mapped) and IPv6
     * ones alike; so neither fixes the family.
     */
    @Test
    void aWildcardLocalAddressReachesBothFamilies() throws Exception {
        assumeIpv6Loopback();
        int v6port = echoServer("[::1]:0").address().getPort();
        int v4port = echoServer("127.0.0.1:0").address().getPort();
        for (String wildcard : List.of("0.0.0.0", "::")) {
            for (String server : List.of("[::1]:" + v6port, "127.0.0.1:" + v4port)) {
                TcpClient c = TcpClient.create(fastReconnect(server).localAddress(new InetSocketAddress(wildcard, 0))
                        .maxAttempts(1).build(), collect, SenderFactory.queue(8)).start();
                try {
                    assertThat(c.awaitConnected(WAIT)).as("from %s to %s", wildcard, server).isTrue();
                    c.put(frame("from " + wildcard));
                    assertThat(next()).isEqualTo("from " + wildcard);
                } finally {
                    c.close();
                    assertThat(c.awaitTermination(WAIT)).isTrue();
                }
            }
        }
    }

    /** Skips the test, saying why, where this machine has no IPv6 loopback address to listen on. */
    private static void assumeIpv6Loopback() {
        try (ServerSocketChannel ch = ServerSocketChannel.open().bind(new InetSocketAddress("::1", 0))) {
            assertThat(ch.getLocalAddress()).isNotNull();
        } catch (Exception e) {
            Assumptions.abort("no IPv6 loopback address (::1) on this machine: " + e);
        }
    }

    /** What the one attempt of a client that gives up after it failed with. */
    private Throwable failureOfOneAttempt(ClientConfig.Builder config) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TcpClient c = TcpClient.create(config.maxAttempts(1).build(), collect, SenderFactory.queue(8))
                .onGiveUp((n, e) -> failure.set(e)).start();
        assertThat(c.awaitTermination(WAIT)).isTrue();
        assertThat(failure.get()).as("gave up").isNotNull();
        return failure.get();
    }

    /** A dial that fails at every address says which it tried, and how each failed. */
    @Test
    void aDialThatFailsAtEveryAddressNamesEachAddress() throws Exception {
        int port = deadPort();
        String host = TestNames.define("all-refuse.stcp.test", "127.0.0.2", "127.0.0.3");
        AtomicReference<Throwable> last = new AtomicReference<>();
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            client = TcpClient.create(fastReconnect(host + ":" + port).maxAttempts(2).build(), collect,
                    SenderFactory.queue(8)).onGiveUp((n, failure) -> last.set(failure)).start();
            assertThat(client.awaitTermination(WAIT)).isTrue();
            assertThat(last.get()).isInstanceOf(ConnectException.class)
                    .hasMessageContaining("connecting to " + host + ":" + port + ": failed at each of its 2 addresses")
                    .hasMessageContaining("127.0.0.2:" + port + " (java.net.ConnectException")
                    .hasMessageContaining("127.0.0.3:" + port + " (java.net.ConnectException");
            assertThat(last.get().getSuppressed()).hasSize(1);
            assertThat(logs.events("client.connect.failed")).singleElement()
                    .satisfies(e -> assertThat(e.getKeyValuePairs().toString()).contains("127.0.0.2:" + port, "127.0.0.3:" + port));
        }
    }

    /**
     * A server that accepts and at once closes (at its connection limit, say), sending nothing:
     * each connection comes up for an instant. Those are failed attempts — counted towards
     * maxAttempts, logged at WARN — or the client would never give up on it, and would say so only
     * at DEBUG.
     */
    @Test
    void connectionsThatEndBeforeTheServerSaysAnythingAreFailedAttempts() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(Sender::close)
                .start();
        servers.add(server);
        AtomicInteger attempts = new AtomicInteger();
        AtomicReference<Throwable> last = new AtomicReference<>();
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            // waits of 1 and 2 ms; a connection is stable (not turned away) after 10 s, far more than any here lasts
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                            .reconnectDelay(Duration.ofMillis(1)).reconnectMaxDelay(Duration.ofSeconds(10)).maxAttempts(3).build(),
                            collect, SenderFactory.queue(8))
                    .onGiveUp((n, failure) -> {
                        attempts.set(n);
                        last.set(failure);
                    })
                    .start();
            assertThat(client.awaitTermination(WAIT)).as("gave up").isTrue();
            assertThat(attempts).hasValue(3);
            assertThat(client.connectCount()).as("each attempt came up").isEqualTo(3);
            assertThat(last.get()).hasMessageContaining("before the server sent anything");
            assertThat(logs.events("client.connect.failed")).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).hasToString("WARN");
                assertThat(e.getKeyValuePairs().toString()).contains("before the server sent anything");
            });
        }
    }

    /**
     * A server that answers, then closes, every connection: each served, so the failures in a row
     * never reach maxAttempts, however short the connections.
     */
    @Test
    void connectionsThatHeardFromTheServerAreNotFailedAttempts() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> {
                    s.put(frame("hello"));
                    s.closeAfterFlush(WAIT);
                })
                .start();
        servers.add(server);
        client = TcpClient.create(fastReconnect("127.0.0.1:" + server.address().getPort()).maxAttempts(1).build(),
                collect, SenderFactory.queue(8)).start();
        for (int i = 0; i < 4; i++) {
            assertThat(next()).isEqualTo("hello");
        }
        assertThat(client.termination()).as("still dialling").isNotDone();
    }

    @Test
    void noThreadOrSocketLeaksAfterAThousandReconnects() throws Exception {
        // The server ends every connection at once; the client comes straight back, a thousand times.
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(Sender::close)
                .start();
        servers.add(server);
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                        .reconnectDelay(ClientConfig.MIN_RECONNECT_DELAY).reconnectMultiplier(1.0).reconnectJitter(0).build(),
                        collect, SenderFactory.queue(8))
                .start();
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(10))
                .until(() -> client.connectCount() >= 1_000);
        client.close();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        // LeakCheck then fails the test if a thread or a socket of the thousand connections is left.
    }

    /** Close lands at a different moment of a reconnect storm each time: connecting, running, backing off. */
    @RepeatedTest(20)
    void closeAtAnyMomentOfAReconnectStormTerminatesAndLeavesNothing() throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(Sender::close)
                .start();
        servers.add(server);
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                        .reconnectDelay(ClientConfig.MIN_RECONNECT_DELAY).reconnectMultiplier(1.0).build(), collect, SenderFactory.queue(8))
                .start();
        int connects = java.util.concurrent.ThreadLocalRandom.current().nextInt(1, 20);
        Awaitility.await().atMost(WAIT).pollInterval(Duration.ofMillis(1)).until(() -> client.connectCount() >= connects);
        client.close();
        assertThat(client.awaitTermination(WAIT)).isTrue();
        assertThat(client.termination()).isCompleted();
        assertThat(client.isConnected()).isFalse();
    }

    @Test
    void shutdownWritesWhatIsQueuedThenCloses() throws Exception {
        AtomicInteger frames = new AtomicInteger();
        CountDownLatch peerClosed = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), (s, c) -> {
                    c.readBytes(c.readInt());
                    frames.incrementAndGet();
                }, SenderFactory.queue(8))
                .onConnectionExit(s -> peerClosed.countDown())
                .start();
        servers.add(server);
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort()).build(), collect,
                SenderFactory.queue(1000)).start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        for (int i = 0; i < 1000; i++) {
            client.put(frame("m" + i));
        }
        assertThat(client.shutdown(WAIT)).isTrue();
        assertThat(peerClosed.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(frames).hasValue(1000);
        assertThat(client.termination()).isCompleted();
    }

    /**
     * A graceful shutdown lands while the offline backlog is being handed to the new connection
     * (the server reads nothing yet, so the hand-over waits for room): the hand-over is finished
     * within the grace, then the connection flushes and closes, and the shutdown says all was
     * written. (It used to cut the hand-over short, discarding the rest of the backlog.)
     */
    @Test
    void aShutdownDuringTheOfflineHandOverFinishesItWithinTheGrace() throws Exception {
        int n = 400;
        byte[] big = Echo.frame(new byte[64 * 1024]); // 400 of them: far more than the sockets' buffers hold
        try (HandOverUnderWay h = handOverUnderWay(n, big)) {
            CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
            long bytes = h.readToEnd();
            assertThat(bytes).as("every kept message, whole").isEqualTo((long) n * big.length);
            assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all written").isTrue();
        }
    }

    /**
     * The same, but the server reads nothing until the grace (300 ms) has run out: the shutdown
     * waits for the hand-over until then, no longer, discards the rest, and says so.
     */
    @Test
    void aShutdownDuringTheOfflineHandOverStopsItAtTheEndOfTheGraceAndSaysNotAllWasWritten() throws Exception {
        int n = 400;
        byte[] big = Echo.frame(new byte[64 * 1024]);
        try (HandOverUnderWay h = handOverUnderWay(n, big)) {
            long start = System.nanoTime();
            CompletableFuture<Boolean> shutdown = shutdownInBackground(Duration.ofMillis(300));
            boolean allWritten = shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("waited for the hand-over until the grace ran out")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(300)).isLessThan(WAIT);
            long delivered = h.readToEnd() / big.length;
            assertThat(delivered).isLessThan(n);
            assertThat(allWritten).as("shutdown() returned true although %s of %s messages were delivered", delivered, n)
                    .isFalse();
        }
    }

    /** A close while a shutdown waits for the hand-over cuts both short: the shutdown returns at once, false. */
    @Test
    void aCloseWhileAShutdownWaitsForTheHandOverCutsItShort() throws Exception {
        int n = 400;
        byte[] big = Echo.frame(new byte[64 * 1024]);
        try (HandOverUnderWay h = handOverUnderWay(n, big)) {
            CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
            assertThat(shutdown).as("waiting for the hand-over: the peer reads nothing").isNotDone();
            long start = System.nanoTime();
            client.close();
            assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all written").isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(h.readToEnd() / big.length).isLessThan(n);
        }
    }

    /**
     * A graceful shutdown while no connection is up and messages wait offline: within its grace
     * the client dials on, as its back-off says, and the server that comes up meanwhile receives
     * the backlog, in order; then the connection shuts down, and the shutdown says all was written.
     * (It used to discard the backlog at once.)
     */
    @Test
    void aShutdownWhileOfflineDialsOnAndTheServerThatComesUpInItsGraceReceivesTheBacklogInOrder() throws Exception {
        int port = deadPort();
        int n = 100;
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(n, 0).build(), collect,
                SenderFactory.queue(8)).start(); // a sender that takes 8 at a time: the hand-over waits for room
        for (int i = 0; i < n; i++) {
            client.put(frame("m" + i));
        }
        CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
        List<String> got = serverComesUpAndTheShutdownReturns(port, shutdown, true);
        assertThat(got).containsExactlyElementsOf(IntStream.range(0, n).mapToObj(i -> "m" + i).toList());
        assertThat(client.connectCount()).isEqualTo(1);
        assertThat(client.termination()).isCompleted().isNotCompletedExceptionally();
    }

    /**
     * The same with no server at all: the client dials on (refused, backing off) until the grace
     * runs out, no longer; then the backlog is discarded, counted, and the shutdown says not all
     * was written. A connect still waiting then (an address that drops SYNs, a connect timeout of
     * 10 s) is ended too.
     */
    @Test
    void aShutdownWhileOfflineWithNoServerReturnsByItsGraceCountingTheBacklogDiscarded() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            client = TcpClient.create(fastReconnect("127.0.0.1:" + deadPort()).offlineQueue(10, 0).build(), collect,
                    SenderFactory.queue(8)).start();
            for (String m : List.of("a", "b", "c")) {
                client.put(frame(m));
            }
            assertShutdownTakesItsGraceAndDiscards(client, Duration.ofMillis(300));
            assertThat(logs.events("client.offline.discarded")).singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("discarded", 3));
        }
        try (SilentListener silent = new SilentListener(new InetSocketAddress("127.0.0.1", 0))) {
            TcpClient hanging = TcpClient.create(fastReconnect("127.0.0.1:" + silent.address().getPort())
                    .connectTimeout(Duration.ofSeconds(10)).offlineQueue(10, 0).build(), collect, SenderFactory.queue(8)).start();
            try {
                hanging.put(frame("a"));
                assertShutdownTakesItsGraceAndDiscards(hanging, Duration.ofMillis(200));
            } finally {
                hanging.close();
            }
        }
    }

    /** {@code c.shutdown(grace)} returns false, after the grace and not much later, having terminated. */
    private static void assertShutdownTakesItsGraceAndDiscards(TcpClient c, Duration grace) throws Exception {
        long start = System.nanoTime();
        assertThat(c.shutdown(grace)).as("all written").isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("dialled on for the grace, and no longer")
                .isGreaterThanOrEqualTo(grace).isLessThan(grace.plus(Duration.ofSeconds(2)));
        assertThat(c.termination()).isCompleted().isNotCompletedExceptionally();
    }

    /** A close during a shutdown that dials on for the offline backlog cuts it short: the shutdown returns at once, false. */
    @Test
    void aCloseWhileAShutdownDialsOnForTheBacklogCutsItShort() throws Exception {
        client = TcpClient.create(fastReconnect("127.0.0.1:" + deadPort()).offlineQueue(10, 0).build(), collect,
                SenderFactory.queue(8)).start();
        client.put(frame("kept"));
        CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
        long start = System.nanoTime();
        client.close();
        assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all written").isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    /**
     * The client gives up (maxAttempts) while a shutdown dials on for the backlog: no connection
     * will come, so the shutdown returns then, false, not at the end of its grace. (The attempts
     * are 1 s apart, so that the shutdown begins before the last even on a loaded machine, and the
     * client does not say it gave up, being closed already.)
     */
    @Test
    void aClientThatGivesUpWhileAShutdownDialsOnForTheBacklogEndsTheShutdown() throws Exception {
        try (LogCapture logs = LogCapture.of("io.stcp.client")) {
            client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + deadPort()).reconnectDelay(Duration.ofSeconds(1))
                    .reconnectJitter(0).maxAttempts(2).offlineQueue(10, 0).build(), collect, SenderFactory.queue(8)).start();
            client.put(frame("kept"));
            long start = System.nanoTime();
            assertThat(client.shutdown(WAIT)).as("all written").isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(logs.events("client.gave_up")).as("gave up during the shutdown, not before").isEmpty();
            assertThat(logs.events("client.offline.discarded")).singleElement()
                    .satisfies(e -> assertThat(LogCapture.fields(e)).containsEntry("discarded", 1));
        }
    }

    /**
     * A message of the offline backlog that the sender of the connection a shutdown hands it to
     * refuses (larger than the sender's byte limit) is dropped, never written: the rest goes out,
     * in order, and the shutdown says not all was written. (It said all was: such a drop was
     * counted in {@link TcpClient#offlineDropped()} only, not in what the shutdown reports.)
     */
    @Test
    void aShutdownWhoseBacklogTheSenderRefusesInPartSaysNotAllWasWritten() throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(10, 0).build(), collect,
                c -> QueueSender.options().maxBytes(64).build(c)).start();
        client.put(frame("a"));
        client.put(frame("x".repeat(100))); // kept: the offline queue has no byte limit; the sender's is 64
        client.put(frame("b"));
        CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
        List<String> got = serverComesUpAndTheShutdownReturns(port, shutdown, false);
        assertThat(got).containsExactly("a", "b");
        assertThat(client.offlineDropped()).isEqualTo(1);
        assertThat(client.termination()).isCompleted().isNotCompletedExceptionally();
    }

    /**
     * A server comes up on {@code port} while a shutdown dials on for the backlog: the shutdown
     * returns {@code allWritten}, and the client closes its connection. The frames the server read.
     */
    private List<String> serverComesUpAndTheShutdownReturns(int port, CompletableFuture<Boolean> shutdown, boolean allWritten)
            throws Exception {
        List<String> got = new CopyOnWriteArrayList<>();
        CountDownLatch clientLeft = new CountDownLatch(1);
        servers.add(TcpServer.create(ServerConfig.builder().address("127.0.0.1:" + port).build(),
                        (s, c) -> got.add(new String(c.readBytes(c.readInt()), UTF_8)), SenderFactory.queue(8))
                .onConnectionExit(s -> clientLeft.countDown())
                .start());
        assertThat(shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("all written").isEqualTo(allWritten);
        assertThat(clientLeft.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the client closed its connection").isTrue();
        return got;
    }

    /**
     * A client whose offline queue holds {@code n} copies of {@code big}, connected to a raw peer
     * that has read the first bytes of the hand-over, which then waits for room.
     */
    private HandOverUnderWay handOverUnderWay(int n, byte[] big) throws Exception {
        int port = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(n, 0).build(), collect,
                        SenderFactory.queue(1))
                .start();
        for (int i = 0; i < n; i++) {
            client.put(big);
        }
        ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port));
        try {
            SocketChannel peer = listener.accept();
            HandOverUnderWay h = new HandOverUnderWay(listener, peer);
            h.bytes = peer.read(h.buf); // the hand-over has begun: the first message is being written
            assertThat(client.isConnected()).isFalse(); // and goes on, waiting for room
            return h;
        } catch (Throwable t) {
            listener.close();
            throw t;
        }
    }

    private static final class HandOverUnderWay implements AutoCloseable {
        final ServerSocketChannel listener;
        final SocketChannel peer;
        final ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
        long bytes;

        HandOverUnderWay(ServerSocketChannel listener, SocketChannel peer) {
            this.listener = listener;
            this.peer = peer;
        }

        /** All the bytes the peer read, until the client's end. */
        long readToEnd() throws Exception {
            for (int r; (r = peer.read(buf.clear())) >= 0; ) {
                bytes += r;
            }
            return bytes;
        }

        @Override
        public void close() throws Exception {
            peer.close();
            listener.close();
        }
    }

    /** The client's shutdown, on a thread of its own, once it has begun (the client is closed to puts). */
    private CompletableFuture<Boolean> shutdownInBackground(Duration grace) {
        CompletableFuture<Boolean> shutdown = new CompletableFuture<>();
        TcpClient c = client;
        Thread.ofVirtual().start(() -> {
            try {
                shutdown.complete(c.shutdown(grace));
            } catch (Throwable t) {
                shutdown.completeExceptionally(t);
            }
        });
        Awaitility.await().atMost(WAIT).untilAsserted(() -> assertThatThrownBy(c::sender).hasMessageContaining("client closed"));
        return shutdown;
    }

    /**
     * A close discards what the offline queue holds; a shutdown after it waits for the same end and
     * must not report that everything was written. After a close that discarded nothing, it may.
     */
    @Test
    void shutdownAfterACloseThatDiscardedTheOfflineQueueDoesNotClaimItWasWritten() throws Exception {
        ClientConfig.Builder config = ClientConfig.builder("127.0.0.1:" + deadPort()).reconnectDelay(Duration.ofHours(1))
                .reconnectMaxDelay(Duration.ofHours(1)).offlineQueue(10, 0);
        TcpClient quiet = TcpClient.create(config.build(), collect, SenderFactory.queue(8)).start();
        quiet.close();
        assertThat(quiet.shutdown(WAIT)).as("nothing was kept, nothing discarded").isTrue();

        client = TcpClient.create(config.build(), collect, SenderFactory.queue(8)).start();
        client.put(frame("kept"));
        client.put(frame("and kept"));
        client.close(); // discards both
        assertThat(client.shutdown(WAIT)).as("shutdown() after a close that discarded 2 kept messages").isFalse();
        assertThat(client.shutdown(WAIT)).as("and again").isFalse();
    }

    /**
     * A sender of the user's that keeps what is put and writes none of it; its close, which
     * discards it all, waits until released: a close of the connection can be held in the middle,
     * after the client is closed and before the connection's queue is discarded.
     */
    private static final class Held implements Sender {
        private final Connection connection;
        private final CountDownLatch released;
        final CountDownLatch closing = new CountDownLatch(1);
        private final AtomicInteger queued = new AtomicInteger();
        private volatile boolean closed;

        Held(Connection connection, CountDownLatch released) {
            this.connection = connection;
            this.released = released;
        }

        @Override
        public Connection connection() {
            return connection;
        }

        @Override
        public void put(byte[] bytes) {
            if (closed) {
                throw new SenderClosedException("closed");
            }
            queued.incrementAndGet();
        }

        @Override
        public int close() {
            closing.countDown();
            boolean interrupted = false;
            while (true) {
                try {
                    released.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            closed = true;
            connection.close();
            return queued.getAndSet(0);
        }

        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public boolean needsSendThread() {
            return false; // nothing to send
        }
    }

    /**
     * The race: close() has closed the client and is discarding the connection's queue when
     * shutdown() is called on another thread. shutdown() finds the client closed and waits for its
     * end; it must report the messages the close discards, not that everything was written.
     */
    @Test
    void shutdownRacingACloseThatDiscardsTheConnectionsQueueDoesNotClaimItWasWritten() throws Exception {
        TcpServer server = echoServer("127.0.0.1:0");
        CountDownLatch released = new CountDownLatch(1);
        AtomicReference<Held> held = new AtomicReference<>();
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort()).build(), collect,
                        c -> {
                            Held h = new Held(c, released);
                            held.set(h);
                            return h;
                        })
                .start();
        try {
            assertThat(client.awaitConnected(WAIT)).isTrue();
            for (int i = 0; i < 3; i++) {
                client.put(frame("queued " + i)); // kept by the sender, not written
            }
            Thread closer = Thread.ofPlatform().name("closer").start(client::close);
            assertThat(held.get().closing.await(10, TimeUnit.SECONDS)).isTrue(); // closed, discarding now

            // it found the client closed and waits for its end
            Shutter shutdown = Shutter.start(client, WAIT, WAIT);
            assertThat(shutdown.result()).isNotDone();

            released.countDown(); // the close discards the 3 queued messages
            closer.join(WAIT);
            assertThat(shutdown.returned(WAIT)).as("shutdown() while a close discarded 3 queued messages").isFalse();
        } finally {
            released.countDown();
        }
    }

    /**
     * Starts a client to a port nobody listens on yet, with {@code n} frames of 64 KiB in its
     * offline queue — 26 MB for 400: far more than the sockets' buffers hold —, each numbered in
     * its first 4 bytes; the numbers of the frames it reads back go to {@code echoes}.
     *
     * @return the port
     */
    private int startWithNumberedBacklog(int n, List<Integer> echoes) throws Exception {
        int port = deadPort();
        ConnectionReader count = (sender, conn) -> echoes.add(ByteBuffer.wrap(conn.readBytes(conn.readInt())).getInt());
        client = TcpClient.create(fastReconnect("127.0.0.1:" + port).offlineQueue(n, 0).build(), count,
                        SenderFactory.queue(8))
                .start();
        byte[] payload = new byte[64 * 1024];
        for (int i = 0; i < n; i++) {
            ByteBuffer.wrap(payload).putInt(i);
            client.put(Echo.frame(payload));
        }
        return port;
    }

    /**
     * An offline backlog far larger than the sockets' buffers, to a server that answers each
     * message: the client must read the answers while it writes the backlog, or the server, its
     * replies unread, drops it as a slow consumer and the backlog goes with it.
     */
    @Test
    void anOfflineBacklogLargerThanTheSocketsIsWrittenWhileTheRepliesAreRead() throws Exception {
        int n = 400;
        List<Integer> echoes = new CopyOnWriteArrayList<>();
        TcpServer server = echoServer("127.0.0.1:" + startWithNumberedBacklog(n, echoes));

        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> {
            int size = echoes.size();
            return size >= n || size > 0 && echoes.get(size - 1) != size - 1; // all, or one out of place
        });
        assertThat(echoes).containsExactlyElementsOf(IntStream.range(0, n).boxed().toList());
        assertThat(server.stats().accepted()).as("one connection: never dropped").isEqualTo(1);
        assertThat(server.stats().closed().values().stream().mapToLong(Long::longValue).sum()).as("none ended").isZero();
    }

    /**
     * The connection breaks while its hand-over of the offline backlog waits for room: the
     * hand-over ends with it (the connection's exit waits for it), what it had not given the
     * sender goes back to the queue, and the next connection writes it, in order. Only what the
     * first connection's sender had accepted is lost with it.
     */
    @Test
    void aConnectionThatBreaksDuringTheHandOverLeavesTheRestOfTheBacklogToTheNext() throws Exception {
        int n = 400;
        List<Integer> echoes = new CopyOnWriteArrayList<>();
        int port = startWithNumberedBacklog(n, echoes);
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port))) {
            try (SocketChannel peer = listener.accept()) {
                ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
                while (buf.hasRemaining() && peer.read(buf) >= 0) {
                    // the hand-over has begun, and waits for room: the socket's buffers are full
                }
                peer.setOption(java.net.StandardSocketOptions.SO_LINGER, 0); // a reset, at once
            }
        }
        echoServer("127.0.0.1:" + port);

        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> echoes.contains(n - 1));
        int first = echoes.get(0);
        assertThat(first).as("the first connection wrote some of the backlog, and took what its sender held")
                .isPositive();
        assertThat(echoes).as("the rest, in order, on the next connection")
                .containsExactlyElementsOf(IntStream.range(first, n).boxed().toList());
    }

    /**
     * The same during a shutdown that dials on for the backlog: the connection breaks while the
     * hand-over waits for room; what the hand-over had not given its sender goes back to the queue,
     * the client dials again within the grace, and the next connection is handed the rest, in
     * order. What the first connection's sender had accepted is lost with it, as on any
     * reconnection (the client does not replay).
     */
    @Test
    void aConnectionThatBreaksWhileAShutdownHandsItTheBacklogLeavesTheRestToTheNext() throws Exception {
        int n = 400;
        int port = startWithNumberedBacklog(n, new CopyOnWriteArrayList<>());
        CompletableFuture<Boolean> shutdown = shutdownInBackground(WAIT);
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port));
             Selector selector = Selector.open()) {
            listener.configureBlocking(false).register(selector, SelectionKey.OP_ACCEPT);
            assertThat(selector.select(WAIT.toMillis())).as("the client dialled on").isPositive();
            try (SocketChannel peer = listener.accept()) {
                ByteBuffer buf = ByteBuffer.allocate(256 * 1024);
                while (buf.hasRemaining() && peer.read(buf) >= 0) {
                    // the hand-over has begun, and waits for room: the socket's buffers are full
                }
                peer.setOption(java.net.StandardSocketOptions.SO_LINGER, 0); // a reset, at once
            }
        }
        List<Integer> got = new CopyOnWriteArrayList<>();
        CountDownLatch clientLeft = new CountDownLatch(1);
        servers.add(TcpServer.create(ServerConfig.builder().address("127.0.0.1:" + port).build(),
                        (s, c) -> got.add(ByteBuffer.wrap(c.readBytes(c.readInt())).getInt()), SenderFactory.queue(8))
                .onConnectionExit(s -> clientLeft.countDown())
                .start());
        shutdown.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(clientLeft.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(got).as("the rest, on the next connection").isNotEmpty();
        int first = got.get(0);
        assertThat(first).as("the first connection wrote some of the backlog, and took what its sender held").isPositive();
        assertThat(got).as("the rest, in order").containsExactlyElementsOf(IntStream.range(first, n).boxed().toList());
        assertThat(client.connectCount()).isEqualTo(2);
    }

    @Test
    void aConnectAttemptEndsAtTheConnectTimeout() throws Exception {
        // A listener that never accepts, its accept queue full: the kernel drops further SYNs.
        try (ServerSocketChannel full = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0), 1)) {
            List<java.nio.channels.SocketChannel> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open();
                    ch.configureBlocking(false);
                    ch.connect(full.getLocalAddress());
                    queued.add(ch);
                }
                AtomicReference<Throwable> last = new AtomicReference<>();
                long start = System.nanoTime();
                client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + ((InetSocketAddress) full.getLocalAddress()).getPort())
                                .connectTimeout(Duration.ofMillis(200)).maxAttempts(1).build(), collect, SenderFactory.queue(8))
                        .onGiveUp((n, failure) -> last.set(failure))
                        .start();
                assertThat(client.awaitTermination(WAIT)).isTrue();
                assertThat(last.get()).isInstanceOf(java.net.SocketTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(200))
                        .isLessThan(WAIT);
            } finally {
                for (java.nio.channels.SocketChannel ch : queued) {
                    ch.close();
                }
            }
        }
    }

    @Test
    void bindsTheLocalAddressItIsGiven() throws Exception {
        AtomicReference<String> peer = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(8))
                .onConnectionStart(s -> peer.set(((InetSocketAddress) s.connection().remoteAddress()).getHostString()))
                .start();
        servers.add(server);
        client = TcpClient.create(ClientConfig.builder("127.0.0.1:" + server.address().getPort())
                        .localAddress(new InetSocketAddress("127.0.0.2", 0)).build(), collect, SenderFactory.queue(8))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        // the client is connected once the kernel accepted; the server's start hook may run a little later
        Awaitility.await().atMost(WAIT).until(() -> peer.get() != null);
        assertThat(peer.get()).isEqualTo("127.0.0.2");
    }

    /**
     * The client ends its connection first, so its end of it — the fixed local port — waits in
     * TIME_WAIT for a minute: the next connection binds that port again all the same.
     */
    @Test
    void reconnectsFromAFixedLocalPortWhoseLastConnectionItClosedItself() throws Exception {
        TcpServer server = echoServer("127.0.0.1:0");
        int localPort = deadPort();
        client = TcpClient.create(fastReconnect("127.0.0.1:" + server.address().getPort())
                        .localAddress(new InetSocketAddress("127.0.0.1", localPort)).build(), collect, SenderFactory.queue(8))
                .start();
        assertThat(client.awaitConnected(WAIT)).isTrue();
        client.put(frame("first"));
        assertThat(next()).isEqualTo("first");

        client.sender().connection().close(); // the client closes first: its end goes to TIME_WAIT
        Awaitility.await().atMost(WAIT).until(() -> client.connectCount() == 2 && client.isConnected());
        assertThat(((InetSocketAddress) client.sender().connection().localAddress()).getPort()).isEqualTo(localPort);
        client.put(frame("second"));
        assertThat(next()).isEqualTo("second");
    }

    @Test
    void configurationIsValidatedNamingTheField() {
        assertThatThrownBy(() -> ClientConfig.builder("localhost:0").build()).hasMessageContaining("address");
        assertThatThrownBy(() -> ClientConfig.builder("localhost").build()).hasMessageContaining("address");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").reconnectDelay(Duration.ZERO).build())
                .hasMessageContaining("reconnectDelay");
        // below the floor of every wait: a client would dial in a tight loop
        assertThatThrownBy(() -> ClientConfig.builder("h:1").reconnectDelay(Duration.ofNanos(999_999)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("reconnectDelay: 999.999µs (expected: >= 1ms)");
        assertThat(ClientConfig.builder("h:1").reconnectDelay(Duration.ofMillis(1)).build().reconnectDelay())
                .isEqualTo(ClientConfig.MIN_RECONNECT_DELAY);
        // RFC 8305: a connection attempt delay MUST NOT be less than 10 ms
        assertThatThrownBy(() -> ClientConfig.builder("h:1").connectionAttemptDelay(Duration.ofMillis(9)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("connectionAttemptDelay: 9ms (expected: >= 10ms)");
        assertThat(ClientConfig.builder("h:1").connectionAttemptDelay(Duration.ofMillis(10)).build().connectionAttemptDelay())
                .isEqualTo(ClientConfig.MIN_CONNECTION_ATTEMPT_DELAY);
        assertThatThrownBy(() -> ClientConfig.builder("h:1").connectionAttemptDelay(null).build())
                .isInstanceOf(NullPointerException.class).hasMessage("connectionAttemptDelay");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").reconnectMultiplier(0.5).build())
                .hasMessageContaining("reconnectMultiplier");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").reconnectMaxDelay(Duration.ofMillis(1)).build())
                .hasMessageContaining("reconnectMaxDelay");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").reconnectJitter(1.5).build())
                .hasMessageContaining("reconnectJitter");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").maxAttempts(-1).build()).hasMessageContaining("maxAttempts");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").offlineQueue(-1, 0).build())
                .hasMessageContaining("offlineCapacity");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").localAddress(InetSocketAddress.createUnresolved("example.com", 0))
                .build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("localAddress: example.com:0 unresolved (expected: an IP address, or null)");
        assertThatThrownBy(() -> ClientConfig.builder("h:1").inboundBudget(-1).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("inboundBudget: -1 (expected: >= 0, 0 = a quarter of the maximum heap)");
        ClientConfig c = ClientConfig.builder("h:1").maxAttempts(3).offlineQueue(5, 10)
                .connectionAttemptDelay(Duration.ofMillis(300)).inboundBudget(1 << 20).build();
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }
}
