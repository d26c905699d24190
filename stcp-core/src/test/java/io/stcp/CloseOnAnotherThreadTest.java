package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.stcp.testing.Echo;
import io.stcp.testing.LogCapture;
import io.stcp.testing.SocketPair;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A graceful close ({@code closeAfterFlush}) on another thread than the connection's reader — a
 * worker the reader handed the request to — meeting the reader's end, a server's shutdown, or its
 * own deadline.
 */
class CloseOnAnotherThreadTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    /**
     * The close reaches its linger (every reply and the FIN sent) while the reader is still busy
     * with the request; then the reader returns, and waits for input that does not come: the peer
     * is idle. The connection ends once the peer has been quiet for a moment, as when the reader
     * was idle first; it waited out the whole linger (2 s) — nothing ended the reader's reading
     * for it but the peer's end of stream.
     */
    @Test
    void aCloseThatLingersBeforeTheReaderGoesIdleEndsOnceThePeerIsQuiet() throws Exception {
        // Quiet after 200 ms; before, the linger's 2 s from the FIN. The margin is for a loaded machine.
        assertThat(closeWhileTheReaderIsBusy(conn -> {})).isLessThan(AT_ONCE);
    }

    /**
     * The close reaches its linger while the reader is busy with a request, and looks at it then:
     * not waiting for input. Then the reader reads again, and waits for a request the peer does not
     * send. That wait tells the close, which looks again and ends the connection at once, as with a
     * reader that waited first. The close was not told: it waited for the peer's end of stream
     * until its linger ended, 2 s — as it did, in the CI, for a reader that its look found between
     * the two waits of one value.
     */
    @Test
    void aReaderThatWaitsAgainAfterTheCloseLookedEndsTheCloseAtOnce() throws Exception {
        assertThat(closeWhileTheReaderIsBusy(Connection::readInt)).isLessThan(AT_ONCE); // the next request, never sent
    }

    /**
     * The peer sends a request; its reader replies, has another thread close, and is busy until
     * the close waits in its linger (the reply and the FIN sent), then does {@code then}.
     *
     * @return how long the close took from the reader's release
     */
    private static Duration closeWhileTheReaderIsBusy(Read then) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 100);
            CountDownLatch release = new CountDownLatch(1);
            Closer closer = new Closer();
            ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                s.put(ByteBuffer.allocate(4).putInt(conn.readInt() + 1).array());
                closer.start(s);
                release.await(); // busy with the request, not waiting for input
                then.read(conn);
            }, sender);
            runner.start();
            p.clientWriteBytes(0, 0, 0, 41);

            DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
            assertThat(in.readInt()).isEqualTo(42);
            assertThat(in.read()).as("the FIN after the reply").isEqualTo(-1);
            closer.awaitLinger(); // the FIN is out: the close waits in its linger, having seen the reader busy
            long releasedAt = System.nanoTime();
            release.countDown();

            long closed = closer.closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(closer.discarded.get()).isZero();
            assertThat(runner.awaitExit(WAIT)).isTrue();
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
            return Duration.ofNanos(closed - releasedAt);
        }
    }

    /**
     * The peer pipelines its next requests while a close on another thread lingers: the reader,
     * which the close saw busy, begins the next request's read with the first of them unread,
     * takes them (which ends its reading), and its end reads and drops what follows until the
     * peer's end of stream, which ends the close; the peer, never quiet for long, is not reset.
     * That read's wait woke the close, which looked again as the bytes went: a read awaiting input
     * and nothing unread, an idle peer it took it to be, and it closed while the peer was sending
     * (JDK transport: reset in 9 of 12 rounds). A wait with bytes unread no longer wakes it.
     */
    @Test
    void aPeerStillSendingItsNextRequestsAsTheReaderReadsAgainIsNotReset() throws Exception {
        for (int round = 0; round < 10; round++) {
            try (SocketPair p = SocketPair.open()) {
                QueueSender sender = QueueSender.create(p.server, 100);
                CountDownLatch inNextCall = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                AtomicInteger calls = new AtomicInteger();
                Closer closer = new Closer();
                ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                    if (calls.incrementAndGet() == 1) {
                        conn.readInt();
                        s.put(new byte[] {42});
                        return;
                    }
                    inNextCall.countDown();
                    release.await(); // busy before its read: not waiting for input
                    conn.readInt(); // the next request, which has begun to come
                }, sender);
                runner.start();
                p.clientWriteBytes(0, 0, 0, 1);
                DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
                assertThat(in.read()).as("the reply").isEqualTo(42);
                p.clientWrite(new byte[64]); // the next requests begin
                assertThat(inNextCall.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                closer.start(sender);
                assertThat(in.read()).as("the FIN").isEqualTo(-1);
                closer.awaitLinger(); // the close waits in its linger, having seen the reader busy
                release.countDown();

                assertThat(sendPaced(p, () -> true, 10)).as("round %d: the peer's writes", round).isNull();
                closer.closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(closer.discarded.get()).isZero();
                assertThat(runner.awaitExit(WAIT)).isTrue();
                assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
            }
        }
    }

    /**
     * The reader's reading ends while a close on another thread still drains (the peer reads its
     * large reply slowly), and its end reads and drops what the peer goes on sending, which it
     * sends every 10 ms until it has read the reply and the FIN. The close, reaching its linger,
     * waits for that reading to end, at the peer's end of stream: the peer is not reset. It looked
     * at the reader thread blocked in that reading with nothing unread between two of the peer's
     * writes, took the peer for idle and closed at once: the peer's next write drew a reset, every
     * time.
     */
    @Test
    void aPeerStillSendingWhileTheReaderThreadReadsForTheCloseIsNotReset() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).build(p.server);
            CountDownLatch inNextCall = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch readEnded = new CountDownLatch(1);
            AtomicReference<Thread> reader = new AtomicReference<>();
            AtomicInteger calls = new AtomicInteger();
            Closer closer = new Closer();
            ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                if (calls.incrementAndGet() == 1) {
                    conn.readInt();
                    return;
                }
                reader.set(Thread.currentThread());
                inNextCall.countDown();
                release.await();
                try {
                    conn.readInt(); // the close has begun: this read's end is the reader's
                } finally {
                    readEnded.countDown();
                }
            }, sender);
            runner.start();
            p.clientWriteBytes(0, 0, 0, 1);
            p.clientWrite(new byte[64]); // the next requests begin
            assertThat(inNextCall.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            // More than the socket buffers hold, written by the sender's thread (not the reader's,
            // whose end would write it, just before it reads): the close drains until the peer reads it.
            sender.put(new byte[4 << 20]);
            closer.start(sender);
            Awaitility.await().atMost(WAIT).until(sender::isClosed); // the close has begun: it drains
            release.countDown();
            assertThat(readEnded.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            Awaitility.await().atMost(WAIT).until(() -> SocketPair.waits(reader.get())); // reading for the close

            CompletableFuture<Long> replied = CompletableFuture.supplyAsync(() -> readToEnd(p));
            assertThat(sendPaced(p, replied::isDone, 10)).as("the peer's writes").isNull();
            assertThat(replied.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the reply, then the FIN").isEqualTo(4 << 20);
            closer.closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(closer.discarded.get()).isZero();
            assertThat(runner.awaitExit(WAIT)).isTrue();
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
        }
    }

    /**
     * The peer writes 256 bytes every 10 ms — never the 200 ms quiet of an idle peer — until
     * {@code until} holds and {@code more} writes after that (at most 10 s in all), then sends its
     * FIN.
     *
     * @return what a write threw (a reset), or null
     */
    private static IOException sendPaced(SocketPair p, BooleanSupplier until, int more) throws InterruptedException {
        try {
            for (int i = 0, after = 0; i < 1000 && after < more; i++) {
                after += until.getAsBoolean() ? 1 : 0;
                p.clientWrite(new byte[256]);
                Thread.sleep(10); // the peer's pace, not a wait for the server
            }
            p.client.shutdownOutput();
            return null;
        } catch (IOException e) {
            return e;
        }
    }

    /** The bytes the client reads until the server's FIN, or -1 if the read fails (a reset). */
    private static long readToEnd(SocketPair p) {
        ByteBuffer b = ByteBuffer.allocate(64 << 10);
        long n = 0;
        try {
            for (int r; (r = p.client.read(b.clear())) >= 0; ) {
                n += r;
            }
            return n;
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * The reader waits for the rest of an int, half of which came, when another thread closes: the
     * peer sends nothing more, so once the reply and the FIN are out and the peer has been quiet
     * for 200 ms (it is in the middle of a value: its rest may be on the way, see
     * GracefulCloseMidValueTest), the close ends the reader's read and the connection — "at once"
     * against the linger's 2 s. On the JDK transport a read blocked for the rest of a value did not
     * say it waited for input (the epoll transport's did): the close waited out its whole linger.
     */
    @Test
    void aCloseOnAnotherThreadEndsAReaderWaitingForTheRestOfAValue() throws Exception {
        assertThat(closeWhileTheReaderWaitsForTheRest(new byte[2], Connection::readInt)).isLessThan(AT_ONCE);
    }

    /**
     * The reader waits for the rest of a large value, part of which is unread in the socket (on
     * epoll the kernel holds it until the rest has come), when another thread closes: the reader is
     * made to take what came, which ends its reading, and it reads and drops the rest for the
     * close's linger, so the connection ends at once, with no reset. Before, the close waited out its
     * linger, 2 s, and then closed with those bytes unread.
     */
    @Test
    void aCloseOnAnotherThreadEndsAReaderWaitingForMoreThanHasArrived() throws Exception {
        assertThat(closeWhileTheReaderWaitsForTheRest(new byte[32 << 10], conn -> conn.readBytes(256 << 10)))
                .isLessThan(AT_ONCE);
    }

    private interface Read {
        void read(Connection conn) throws Exception;
    }

    /** A close on a thread of its own, as a worker the reader handed the request to makes it. */
    private static final class Closer {
        final CompletableFuture<Long> closedAt = new CompletableFuture<>();
        final CompletableFuture<Integer> discarded = new CompletableFuture<>();
        volatile long began;
        private volatile Thread thread;

        void start(Sender sender) {
            thread = Thread.ofPlatform().name("closer").start(() -> {
                began = System.nanoTime();
                discarded.complete(sender.closeAfterFlush(WAIT));
                closedAt.complete(System.nanoTime());
            });
        }

        /** Returns once the close waits in its linger: the peer read its replies and the FIN first. */
        void awaitLinger() {
            Awaitility.await().atMost(WAIT).until(() -> thread != null && thread.getState() == Thread.State.TIMED_WAITING);
        }
    }

    /** A close "at once": before, the linger's 2 s. The margin is for a loaded machine. */
    private static final Duration AT_ONCE = Duration.ofMillis(1200);

    /**
     * The peer sends {@code sent}, the start of what the reader's {@code read} reads, which then
     * waits for the rest; this thread closes, the reply and the FIN delivered.
     *
     * @return how long the close took
     */
    private static Duration closeWhileTheReaderWaitsForTheRest(byte[] sent, Read read) throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 100);
            AtomicReference<Thread> reader = new AtomicReference<>();
            ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                reader.set(Thread.currentThread());
                read.read(conn);
            }, sender);
            p.clientWrite(sent); // before the runner starts: the reader's first wait is for the rest
            runner.start();
            Awaitility.await().atMost(WAIT).until(() -> reader.get() != null && SocketPair.waits(reader.get()));
            sender.put(new byte[] {42});
            long began = System.nanoTime();
            int discarded = sender.closeAfterFlush(WAIT); // on this thread, not the reader's
            Duration took = Duration.ofNanos(System.nanoTime() - began);
            assertThat(discarded).isZero();

            DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
            assertThat(in.read()).as("the reply").isEqualTo(42);
            assertThat(in.read()).as("the FIN after the reply").isEqualTo(-1);
            assertThat(runner.awaitExit(WAIT)).isTrue();
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
            return took;
        }
    }

    /**
     * The close reaches its linger while the reader is busy with a large value's header; part of
     * the value comes, and then the reader waits for the value (on epoll the kernel would hold
     * what came back until the rest has come). The close looked before that wait began, so it was
     * never told to read what came: the wait went on to the end of the linger, 2 s, and the close
     * then reset the peer, those bytes unread. A wait for a value that begins once a close has begun
     * holds nothing back: the reader takes what came, which ends its reading, and reads and drops
     * the rest for the linger, and the connection ends once the peer is quiet.
     */
    @Test
    void aReaderThatBeginsWaitingForMoreThanHasArrivedAfterTheCloseLookedEndsOnceThePeerIsQuiet() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 100);
            CountDownLatch release = new CountDownLatch(1);
            Closer closer = new Closer();
            ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                int length = conn.readInt();
                s.put(new byte[] {42});
                closer.start(s);
                release.await(); // busy with the header, not waiting for input
                conn.readBytes(length); // its next wait is the value's
            }, sender);
            runner.start();
            byte[] start = new byte[4 + 100];
            start[1] = 4; // a value of 256 KiB, the first 100 bytes of which the reader buffers with its length
            p.clientWrite(start);

            DataInputStream in = new DataInputStream(Channels.newInputStream(p.client));
            assertThat(in.read()).as("the reply").isEqualTo(42);
            assertThat(in.read()).as("the FIN after the reply").isEqualTo(-1);
            closer.awaitLinger(); // the FIN is out: the close waits in its linger, the reader busy
            // More of the value, unread as the reader begins its wait for the rest (with nothing
            // unread, that wait would end the close at once): a small segment, well inside the
            // window (one that leaves less than a segment's room wakes the reader despite the mark).
            p.clientWrite(new byte[4 << 10]);
            release.countDown();

            long closed = closer.closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            // Quiet 200 ms after the wait began; before, the linger's 2 s from its start, and a reset.
            // The margin is for a loaded machine.
            assertThat(Duration.ofNanos(closed - closer.began)).isLessThan(Duration.ofMillis(1700));
            assertThat(closer.discarded.get()).isZero();
            assertThat(runner.awaitExit(WAIT)).isTrue();
            assertThat(p.server.closeReason()).isEqualTo(CloseReason.CLOSED);
        }
    }

    /**
     * A server's shutdown, or close, that lands while a close on another thread drains (the peer
     * reads none of its replies) does not take the connection's end from it: the close came first,
     * and the connection ends CLOSED, as it would have without the shutdown. It ended SHUTDOWN.
     */
    @Test
    void aShutdownDuringACloseOnAnotherThreadLeavesItsReason() throws Exception {
        endsClosedWhenTheServerStopsDuringTheClose(server -> server.shutdown(Duration.ofMillis(300)));
    }

    @Test
    void aServerCloseDuringACloseOnAnotherThreadLeavesItsReason() throws Exception {
        endsClosedWhenTheServerStopsDuringTheClose(TcpServer::close);
    }

    private interface Stop {
        void stop(TcpServer server) throws Exception;
    }

    private void endsClosedWhenTheServerStopsDuringTheClose(Stop stop) throws Exception {
        AtomicReference<Sender> senderOf = new AtomicReference<>();
        BlockingQueue<Connection> exits = new LinkedBlockingQueue<>();
        ConnectionReader reader = (sender, conn) -> {
            int n = conn.readInt();
            if (n > 0) {
                for (int i = 0; i < n; i++) {
                    sender.put(new byte[1 << 20]); // more than the socket buffers hold
                }
            } else {
                Thread.ofPlatform().start(() -> sender.closeAfterFlush(WAIT));
            }
        };
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, QueueSender.options().capacity(100).maxBytes(0)::build)
                .onConnectionStart(senderOf::set)
                .onConnectionExit(s -> exits.add(s.connection()))
                .start();
        try (Socket peer = new Socket()) {
            peer.connect(new InetSocketAddress(server.address().getAddress(), server.address().getPort()));
            OutputStream out = peer.getOutputStream();
            out.write(new byte[] {0, 0, 0, 16, 0, 0, 0, 0}); // 16 MiB of replies, then close
            out.flush();
            Awaitility.await().atMost(WAIT).until(() -> senderOf.get() != null && senderOf.get().isClosed());

            stop.stop(server); // the close is still draining: the peer reads nothing
            Connection conn = exits.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(conn).as("the connection's end").isNotNull();
            assertThat(conn.closeReason()).isEqualTo(CloseReason.CLOSED);
        } finally {
            Echo.stop(server);
        }
    }

    /**
     * A close on another thread whose drain times out with replies still queued reports what it
     * discarded to its caller, always: as the README says, the {@code conn.exit} line does not count
     * what a {@code closeAfterFlush} of the application returned. Which of the two got the count
     * depended on which closed the sender first, that close or the reader's end, woken by it.
     */
    @Test
    void aDrainThatTimesOutReportsWhatItDiscardedToItsCaller() throws Exception {
        for (int round = 0; round < 10; round++) {
            try (LogCapture logs = LogCapture.of("io.stcp.connection"); SocketPair p = SocketPair.open()) {
                QueueSender sender = QueueSender.options().capacity(100).maxBytes(0).build(p.server);
                CountDownLatch reading = new CountDownLatch(1);
                ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                    reading.countDown();
                    conn.readInt(); // waits for input, which does not come
                }, sender);
                runner.start();
                assertThat(reading.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                for (int i = 0; i < 40; i++) {
                    sender.put(new byte[1 << 20]); // far more than the socket buffers hold: the peer reads none
                }
                CompletableFuture<Integer> discarded = new CompletableFuture<>();
                Thread.ofPlatform().start(() -> discarded.complete(sender.closeAfterFlush(Duration.ofMillis(100))));

                int count = discarded.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(runner.awaitExit(WAIT)).isTrue();
                assertThat(count).as("round %d: closeAfterFlush's count", round).isPositive()
                        .isEqualTo(sender.stats().discarded());
                List<ILoggingEvent> exits = logs.events("conn.exit");
                assertThat(exits).hasSize(1);
                assertThat(LogCapture.fields(exits.get(0))).as("round %d: conn.exit", round)
                        .containsEntry("reason", CloseReason.CLOSED).doesNotContainKey("discarded"); // none
            }
        }
    }
}
