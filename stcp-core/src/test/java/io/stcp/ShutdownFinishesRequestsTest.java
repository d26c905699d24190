package io.stcp;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.internal.Transports;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.TestCerts;
import io.stcp.testing.TestClient;
import io.stcp.testing.TlsClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A server's graceful shutdown lets a reader call in progress — one that has read part of a
 * request — finish and deliver its reply, begins no new call, and does not wait for connections
 * whose readers wait between requests. Both transports: this suite runs again in stcp-epoll's build.
 */
class ShutdownFinishesRequestsTest {
    /** Never reached by a test that passes; shorter than the JUnit timeout (60 s), so a wait for it fails as itself. */
    private static final Duration GRACE = Duration.ofSeconds(30);

    /** The reader: one frame; a request starting with 'H' waits for {@code release} before its reply. */
    private static ConnectionReader heldEcho(AtomicReference<Connection> held, CountDownLatch read,
                                             CountDownLatch release) {
        return (sender, conn) -> {
            byte[] request = conn.readBytes(conn.readInt());
            if (request.length > 0 && request[0] == 'H') {
                held.set(conn);
                read.countDown();
                release.await(); // the test shuts the server down meanwhile
            }
            sender.put(Echo.frame(request));
        };
    }

    private static CompletableFuture<Boolean> shutdownInBackground(TcpServer server, Duration grace) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                result.complete(server.shutdown(grace));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    /** The shutdown has reached {@code conn}: it records its reason first, before it touches the sender. */
    private static void awaitShutdownReached(Connection conn) {
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> conn.closeReason() == CloseReason.SHUTDOWN);
    }

    @Test
    void aReaderHeldInItsCallWhenTheShutdownBeginsDeliversItsReplyThenTheConnectionEnds() throws Exception {
        AtomicReference<Connection> held = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), heldEcho(held, read, release),
                SenderFactory.queue(16)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame("Hello".getBytes(US_ASCII));
            assertThat(read.await(20, TimeUnit.SECONDS)).isTrue();

            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            awaitShutdownReached(held.get());
            assertThat(shutdown).isNotDone(); // it waits for the call in progress
            release.countDown();

            assertThat(client.readFrame()).isEqualTo("Hello".getBytes(US_ASCII));
            assertThat(client.isClosedByServer()).isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).as("nothing discarded").isTrue();
            assertThat(server.stats().closed()).containsEntry(CloseReason.SHUTDOWN, 1L);
        } finally {
            release.countDown();
            Echo.stop(server);
        }
    }

    @Test
    void idleConnectionsEndAtOnceWhileABusyReaderFinishesItsReply() throws Exception {
        int idle = 50;
        AtomicReference<Connection> held = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), heldEcho(held, read, release),
                SenderFactory.queue(16)).start();
        List<TestClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < idle; i++) {
                TestClient c = TestClient.connect(server.address());
                clients.add(c);
                if (i % 2 == 0) { // half have had a request served: their loops wait between calls
                    assertThat(c.roundTrip(new byte[] {(byte) i})).containsExactly((byte) i);
                } // the other half never sent a byte: their first call waits having read nothing
            }
            TestClient busy = TestClient.connect(server.address());
            clients.add(busy);
            busy.sendFrame("Hold".getBytes(US_ASCII));
            assertThat(read.await(20, TimeUnit.SECONDS)).isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.connectionCount() == idle + 1);

            long start = System.nanoTime();
            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            for (TestClient c : clients.subList(0, idle)) {
                assertThat(c.awaitClosedByServer()).as("an idle connection ends at once").isTrue();
            }
            Duration idleEnded = Duration.ofNanos(System.nanoTime() - start);
            // Every idle connection ended while the busy reader was still held: nothing waited for it,
            // nor for the grace period.
            assertThat(release.getCount()).isEqualTo(1);
            assertThat(shutdown).isNotDone();
            assertThat(idleEnded).isLessThan(GRACE.dividedBy(3));
            // Only the busy one is left.
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.connectionCount() == 1);

            release.countDown();
            assertThat(busy.readFrame()).isEqualTo("Hold".getBytes(US_ASCII));
            assertThat(busy.isClosedByServer()).isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            release.countDown();
            for (TestClient c : clients) {
                c.close();
            }
            Echo.stop(server);
        }
    }

    @Test
    void idleTlsConnectionsEndAtOnceWhileABusyReaderFinishesItsReply() throws Exception {
        // Over TLS an idle reader waits in the TLS layer with nothing of a record buffered: it
        // rests as a plain one does, and a busy one is let finish.
        int idle = 10;
        TestCerts certs = TestCerts.get();
        AtomicReference<Connection> held = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TcpServer server = TcpServer.create(
                Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(),
                heldEcho(held, read, release), SenderFactory.queue(16)).start();
        List<TlsClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < idle; i++) {
                TlsClient c = TlsClient.connect(server.address(), certs.clientContext());
                clients.add(c);
                if (i % 2 == 0) {
                    assertThat(c.roundTrip(new byte[] {(byte) i})).containsExactly((byte) i);
                } // the others shook hands and sent nothing
            }
            TlsClient busy = TlsClient.connect(server.address(), certs.clientContext());
            clients.add(busy);
            busy.sendFrame("Hold".getBytes(US_ASCII));
            assertThat(read.await(20, TimeUnit.SECONDS)).isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.connectionCount() == idle + 1);

            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            for (TlsClient c : clients.subList(0, idle)) {
                assertThat(c.isClosedByServer()).as("an idle connection ends at once").isTrue();
            }
            assertThat(shutdown).isNotDone(); // the busy reader is still held
            // Only the busy one is left.
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> server.connectionCount() == 1);

            release.countDown();
            assertThat(busy.readFrame()).isEqualTo("Hold".getBytes(US_ASCII));
            assertThat(busy.isClosedByServer()).isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            release.countDown();
            for (TlsClient c : clients) {
                c.close();
            }
            Echo.stop(server);
        }
    }

    /**
     * A start hook that greets the client and waits for its hello is, having read nothing, a
     * connection waiting between requests: shut down at once, its greeting written, and the hook's
     * read ended under it — the shutdown's doing, not a failure of the hook's: no WARN. (The
     * shutdown waited for the hook until its grace was over, then returned false; the hook's end
     * was a WARN.)
     */
    @Test
    void aStartHookWaitingForTheClientsFirstWordIsNotWaitedFor() throws Exception {
        CountDownLatch greeted = new CountDownLatch(1);
        TcpServer server = greeting(Echo.loopback().build(), greeted);
        try (LogCapture log = LogCapture.of("io.stcp.connection"); TestClient client = TestClient.connect(server.address())) {
            assertThat(client.readFrame()).isEqualTo("hi".getBytes(US_ASCII));
            assertThat(greeted.await(20, TimeUnit.SECONDS)).isTrue();
            shutsDownAtOnce(server, log);
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /** A server whose start hook greets the client, then waits for its hello (a frame), which never comes. */
    private static TcpServer greeting(ServerConfig config, CountDownLatch greeted) throws IOException {
        return TcpServer.create(config, Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> {
                    s.put(Echo.frame("hi".getBytes(US_ASCII)));
                    greeted.countDown();
                    s.connection().readBytes(s.connection().readInt()); // the client's hello, which never comes
                })
                .start();
    }

    /** The shutdown of {@link #greeting}'s server, its one connection's hook waiting: at once, the hook's end at DEBUG. */
    private static void shutsDownAtOnce(TcpServer server, LogCapture log) throws InterruptedException {
        long start = System.nanoTime();
        assertThat(server.shutdown(GRACE)).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(GRACE.dividedBy(3));
        assertThat(server.stats().closed()).containsEntry(CloseReason.SHUTDOWN, 1L);
        assertThat(log.events("conn.hook.failed")).singleElement()
                .satisfies(e -> assertThat(e.getLevel()).hasToString("DEBUG"));
    }

    /**
     * Over TLS too: a start hook waiting for the client's hello, with nothing of a record held by
     * the TLS layer (the handshake's bytes are not the hook's), rests and is shut down at once; the
     * client sees close_notify, not a bare end.
     */
    @Test
    void aStartHookWaitingForTheClientsFirstWordOverTlsIsNotWaitedFor() throws Exception {
        TestCerts certs = TestCerts.get();
        CountDownLatch greeted = new CountDownLatch(1);
        TcpServer server = greeting(Echo.loopback().tls(TlsConfig.fromPem(certs.serverCert, certs.serverKey)).build(), greeted);
        try (LogCapture log = LogCapture.of("io.stcp.connection");
             TlsClient client = TlsClient.connect(server.address(), certs.clientContext())) {
            assertThat(client.readFrame()).isEqualTo("hi".getBytes(US_ASCII));
            assertThat(greeted.await(20, TimeUnit.SECONDS)).isTrue();
            shutsDownAtOnce(server, log);
            assertThat(client.isClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A start hook that has read part of the client's hello when the shutdown begins is inside a
     * request: let finish, as a reader call that has consumed input is — it reads the rest and
     * answers, then the connection closes — not cut.
     */
    @Test
    void aStartHookThatHasReadPartOfTheHelloIsLetFinish() throws Exception {
        AtomicReference<Connection> greeting = new AtomicReference<>();
        TcpServer server = TcpServer.create(Echo.loopback().build(), Echo.READER, SenderFactory.queue(16))
                .onConnectionStart(s -> {
                    Connection c = s.connection();
                    greeting.set(c);
                    byte[] hello = c.readBytes(c.readInt());
                    s.put(Echo.frame(("welcome " + new String(hello, US_ASCII)).getBytes(US_ASCII)));
                })
                .start();
        try (LogCapture log = LogCapture.of("io.stcp.connection"); TestClient client = TestClient.connect(server.address())) {
            byte[] hello = Echo.frame("alice".getBytes(US_ASCII));
            client.sendRaw(Arrays.copyOf(hello, 6)); // its length and "al"
            Awaitility.await().atMost(Duration.ofSeconds(20))
                    .until(() -> greeting.get() != null && greeting.get().bytesRead() >= 4);
            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            awaitShutdownReached(greeting.get());
            client.sendRaw(Arrays.copyOfRange(hello, 6, hello.length));
            assertThat(client.readFrame()).isEqualTo("welcome alice".getBytes(US_ASCII));
            assertThat(client.awaitClosedByServer()).isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(log.events("conn.hook.failed")).isEmpty();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderBlockedInARawChannelReadIsNotWaitedFor() throws Exception {
        // A reader that reads the channel itself, around the connection's input, cannot be seen
        // resting: it is shut down at once, as before, not waited for until the grace is over.
        Assumptions.assumeTrue(Transports.name().equals("jdk"),
                "only the JDK's channels block; a native transport's are non-blocking");
        CountDownLatch reading = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            SocketChannel channel = conn.channel();
            reading.countDown();
            ByteBuffer b = ByteBuffer.allocate(1);
            if (channel.read(b) < 0) {
                throw new java.io.EOFException();
            }
            sender.put(Echo.frame(b.array()));
        }, SenderFactory.queue(16)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            assertThat(reading.await(20, TimeUnit.SECONDS)).isTrue();
            long start = System.nanoTime();
            assertThat(server.shutdown(GRACE)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(GRACE.dividedBy(3));
            assertThat(client.awaitClosedByServer()).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderThatNeverReturnsIsForceClosedAtTheDeadlineAndTheShutdownSaysSo() throws Exception {
        AtomicReference<Thread> readerThread = new AtomicReference<>();
        CountDownLatch read = new CountDownLatch(1);
        CountDownLatch exited = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            conn.readBytes(conn.readInt());
            readerThread.set(Thread.currentThread());
            read.countDown();
            never.await(); // until the forced close interrupts it
            sender.put(new byte[] {1});
        }, SenderFactory.queue(16)).onConnectionExit(s -> exited.countDown()).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendFrame(new byte[] {7});
            assertThat(read.await(20, TimeUnit.SECONDS)).isTrue();

            Duration grace = Duration.ofMillis(500);
            long start = System.nanoTime();
            assertThat(server.shutdown(grace)).as("a call was cut short").isFalse();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(grace);

            assertThat(client.awaitClosedByServer()).isTrue();
            assertThat(exited.await(20, TimeUnit.SECONDS)).isTrue();
            assertThat(server.awaitTermination(Duration.ofSeconds(20))).isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !readerThread.get().isAlive());
            // LeakCheck fails the test if any other stcp thread (a shutdown's flusher, say) is left.
        } finally {
            never.countDown();
            Echo.stop(server);
        }
    }

    @Test
    void aReaderWaitingForTheRestOfItsFrameReadsItAndRepliesDuringTheShutdown() throws Exception {
        AtomicReference<Connection> midFrame = new AtomicReference<>();
        CountDownLatch headerRead = new CountDownLatch(1);
        TcpServer server = TcpServer.create(Echo.loopback().build(), (sender, conn) -> {
            int length = conn.readInt();
            midFrame.set(conn);
            headerRead.countDown();
            sender.put(Echo.frame(conn.readBytes(length))); // waits for the rest of the frame
        }, SenderFactory.queue(16)).start();
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ByteBuffer.allocate(6).putInt(5).put("He".getBytes(US_ASCII)).array());
            assertThat(headerRead.await(20, TimeUnit.SECONDS)).isTrue();

            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            awaitShutdownReached(midFrame.get());
            client.sendRaw("llo".getBytes(US_ASCII));

            assertThat(client.readFrame()).isEqualTo("Hello".getBytes(US_ASCII));
            assertThat(client.isClosedByServer()).isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A value longer than a reader's turn (256 KiB read without a wait) makes its next read give way
     * first ({@code Transport.giveWay}); on epoll, the socket being empty, the give-way waits for
     * input. That wait is between requests like any other: the shutdown ends the idle connection at
     * once. It did not: unmarked as a wait for input, it kept the shutdown waiting until its deadline.
     */
    @Test
    void aConnectionIdleAfterAValueLongerThanATurnEndsAtOnce() throws Exception {
        byte[] value = new byte[1 << 20];
        TcpServer server = Echo.start();
        try (TestClient client = TestClient.connect(server.address())) {
            // The first may come in pieces, while the receive window grows; the later ones are read whole.
            for (int i = 0; i < 3; i++) {
                assertThat(client.roundTrip(value)).hasSize(value.length);
            }

            long start = System.nanoTime();
            CompletableFuture<Boolean> shutdown = shutdownInBackground(server, GRACE);
            assertThat(client.awaitClosedByServer()).as("an idle connection ends at once").isTrue();
            assertThat(shutdown.get(30, TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(GRACE.dividedBy(3));
        } finally {
            Echo.stop(server);
        }
    }
}
