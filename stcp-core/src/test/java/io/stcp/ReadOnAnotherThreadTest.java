package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.THROWABLE;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A connection is read by one thread, its reader's: a read on another thread while a runner runs
 * the connection throws {@link IllegalStateException} at once, and the reader goes on reading
 * every byte. It waited instead — on the JDK transport behind the reader's blocked read, for the
 * channel's read lock, beyond every read timeout — and took bytes from under the reader. A
 * connection no runner runs yet is read by any thread, one at a time: a second read while one is
 * under way throws {@link IllegalStateException} at once. Both transports: this suite runs again in
 * stcp-epoll's build.
 */
class ReadOnAnotherThreadTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final List<TcpServer> servers = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (TcpServer s : servers) {
            Echo.stop(s);
        }
    }

    private TcpServer start(ConnectionReader reader, ConnectionHook startHook) throws Exception {
        TcpServer server = TcpServer.create(Echo.loopback().build(), reader, SenderFactory.queue(64))
                .onConnectionStart(startHook).start();
        servers.add(server);
        return server;
    }

    /** Reads an int from {@code connection} on a new thread: the outcome is the int, or what the read threw. */
    private static CompletableFuture<Object> readIntElsewhere(Connection connection) {
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                outcome.complete(connection.readInt());
            } catch (Throwable t) {
                outcome.complete(t);
            }
        });
        return outcome;
    }

    private static void assertRefused(CompletableFuture<Object> outcome) throws Exception {
        assertThat(outcome.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).asInstanceOf(THROWABLE)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not its reader's: a connection is read by one thread");
    }

    private static byte[] ints(int... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    @Test
    void aReadOnAThreadTheReaderHandedTheConnectionToThrowsAtOnceAndTheReaderReadsOn() throws Exception {
        AtomicReference<CompletableFuture<Object>> elsewhere = new AtomicReference<>();
        BlockingQueue<Integer> read = new LinkedBlockingQueue<>();
        TcpServer server = start((sender, conn) -> {
            int v = conn.readInt();
            if (elsewhere.get() == null) {
                elsewhere.set(readIntElsewhere(conn)); // an executor's read, while this reader reads on
            }
            read.add(v);
        }, s -> { });
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ints(1));
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(1);
            // The reader now waits for its next int: blocked in a read, or its loop suspended (epoll).
            assertRefused(elsewhere.get());
            client.sendRaw(ints(2, 3));
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(2);
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(3);
        }
    }

    @Test
    void aThreadAStartHookStartsCannotReadAndTheReaderEchoesEveryFrame() throws Exception {
        CompletableFuture<CompletableFuture<Object>> elsewhere = new CompletableFuture<>();
        TcpServer server = start(Echo.READER, s -> elsewhere.complete(readIntElsewhere(s.connection())));
        try (TestClient client = TestClient.connect(server.address())) {
            for (int i = 0; i < 100; i++) {
                byte[] payload = ("frame " + i).getBytes();
                assertThat(client.roundTrip(payload)).isEqualTo(payload);
            }
            assertRefused(elsewhere.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        }
    }

    @Test
    void aReaderThatWaitsForAnotherThreadToReadForItIsRefusedToo() throws Exception {
        BlockingQueue<Object> outcomes = new LinkedBlockingQueue<>();
        TcpServer server = start((sender, conn) -> {
            outcomes.add(readIntElsewhere(conn).get(WAIT.toMillis(), TimeUnit.MILLISECONDS)); // this thread reads nothing meanwhile
            outcomes.add(conn.readInt());
        }, s -> { });
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ints(5));
            assertRefused(CompletableFuture.completedFuture(outcomes.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)));
            assertThat(outcomes.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(5);
        }
    }

    @Test
    void theStartHooksAndTheReaderReadOnTheReaderThread() throws Exception {
        CompletableFuture<Integer> greeting = new CompletableFuture<>();
        TcpServer server = start(Echo.READER, s -> greeting.complete(s.connection().readInt()));
        try (TestClient client = TestClient.connect(server.address())) {
            client.sendRaw(ints(42));
            assertThat(client.roundTrip("after the greeting".getBytes())).isEqualTo("after the greeting".getBytes());
            assertThat(greeting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(42);
        }
    }

    /**
     * A read of a connection no runner runs, on a second thread while the first waits for input,
     * fails at once, naming the connection; the first read gets its bytes, and this thread, once it
     * has returned, the next ones. The second read waited beside the first and took bytes from under
     * it: two reads on one buffer, unsynchronized.
     */
    @Test
    void aSecondThreadsReadOfAConnectionNoRunnerRunsFailsWhileTheFirstReads() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            CompletableFuture<Integer> first = p.serverReadIntOnceWaiting();
            assertThat(readIntElsewhere(p.server).get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).asInstanceOf(THROWABLE)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("a read of connection " + p.server.id() + " on thread")
                    .hasMessageContaining("a connection is read by one thread at a time");
            p.clientWrite(ints(42, 43));
            assertThat(first.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(42);
            assertThat(p.server.readInt()).isEqualTo(43);
        }
    }

    /**
     * A runner started on a connection that an application thread is reading fails to start, and
     * that read gets its bytes; started once the read has returned, its reader reads the next ones.
     * Before, the runner started, and its reader thread, which never claims the input, read the one
     * buffer beside the application's read: the first int went to either, or was torn.
     */
    @Test
    void aRunnerStartedWhileAnApplicationThreadReadsFailsToStart() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            CompletableFuture<Integer> first = p.serverReadIntOnceWaiting();
            BlockingQueue<Integer> read = new LinkedBlockingQueue<>();
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> read.add(c.readInt()), QueueSender.create(p.server, 8));
            assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("a runner started on connection " + p.server.id() + " while thread");
            p.clientWrite(ints(42));
            assertThat(first.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(42);
            runner.start();
            p.clientWrite(ints(43));
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(43);
            runner.exit();
            assertThat(runner.awaitExit(WAIT)).isTrue();
        }
    }

    /**
     * A runner started on a connection no runner runs while another thread's graceful close
     * lingers on it, reading and dropping what the peer sends, fails to start: the close reads the
     * input. Once the close is over, it starts, as on any closed connection, and ends. Before, it
     * started while the close lingered, and its reader's end read the peer's input beside the
     * closing thread's reads.
     */
    @Test
    void aRunnerStartedWhileAGracefulCloseLingersFailsToStart() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.create(p.server, 8);
            p.clientWrite(new byte[1024]); // unread as the close begins: it lingers, reading
            CompletableFuture<Integer> discarded = new CompletableFuture<>();
            Thread closer = Thread.ofPlatform().name("closer").start(() -> discarded.complete(sender.closeAfterFlush(WAIT)));
            // A byte every 20 ms: never quiet for the linger's 200 ms, so it reads until its 2 s are up.
            Thread trickle = Thread.ofPlatform().name("trickle").start(() -> {
                try {
                    for (int i = 0; i < 500 && !Thread.currentThread().isInterrupted(); i++) {
                        p.clientWriteBytes(i);
                        Thread.sleep(20);
                    }
                } catch (Exception e) {
                    // closed, or told to stop
                }
            });
            try {
                Awaitility.await().atMost(WAIT).until(() -> Arrays.stream(closer.getStackTrace())
                        .anyMatch(f -> f.getMethodName().equals("discardUntilEnd"))); // the close reads the input
                ConnectionRunner runner = ConnectionRunner.create((s, c) -> c.readInt(), QueueSender.create(p.server, 8));
                assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("a runner started on connection " + p.server.id() + " while its graceful close reads it");
                assertThat(discarded.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isZero();
                runner.start(); // closed now
                assertThat(runner.awaitExit(WAIT)).isTrue();
            } finally {
                trickle.interrupt();
                trickle.join();
            }
        }
    }

    /**
     * Two threads reading ints from one connection no runner runs as fast as they can, each retrying
     * a read refused while the other's is under way: every int is read once, whole, and each
     * thread's in the order sent. Without the check they tore ints apart or read one twice.
     */
    @Test
    void twoThreadsReadingAConnectionNoRunnerRunsNeverShareARead() throws Exception {
        int n = 10_000;
        try (SocketPair p = SocketPair.open()) {
            int[] sent = new int[n];
            for (int i = 0; i < n; i++) {
                sent[i] = i;
            }
            p.clientWrite(ints(sent));
            p.client.shutdownOutput();
            List<CompletableFuture<List<Integer>>> readers = List.of(readIntsToTheEnd(p.server), readIntsToTheEnd(p.server));
            List<Integer> all = new ArrayList<>();
            for (CompletableFuture<List<Integer>> r : readers) {
                List<Integer> read = r.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(read).as("one thread's ints").isSorted();
                all.addAll(read);
            }
            assertThat(all).hasSize(n).doesNotHaveDuplicates().allMatch(v -> v >= 0 && v < n);
        }
    }

    /** Reads ints from {@code connection} on a new thread until its end, retrying a read refused as another thread's runs. */
    private static CompletableFuture<List<Integer>> readIntsToTheEnd(Connection connection) {
        CompletableFuture<List<Integer>> outcome = new CompletableFuture<>();
        Thread.ofPlatform().start(() -> {
            List<Integer> read = new ArrayList<>();
            try {
                while (true) {
                    try {
                        read.add(connection.readInt());
                    } catch (IllegalStateException refused) {
                        Thread.onSpinWait(); // the other thread reads: try again
                    }
                }
            } catch (EOFException end) {
                outcome.complete(read);
            } catch (Throwable t) {
                outcome.completeExceptionally(t);
            }
        });
        return outcome;
    }

    @Test
    void aConnectionNoRunnerRunsIsReadByAnyThreadUntilItsRunnerStarts() throws Exception {
        try (SocketPair p = SocketPair.open()) {
            p.clientWrite(ints(1, 2, 3));
            assertThat(p.server.readInt()).isEqualTo(1); // this thread
            assertThat(readIntElsewhere(p.server).get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(2);
            BlockingQueue<Integer> read = new LinkedBlockingQueue<>();
            ConnectionRunner runner = ConnectionRunner.create((s, c) -> read.add(c.readInt()), QueueSender.create(p.server, 8));
            runner.start();
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(3);
            assertRefused(readIntElsewhere(p.server));
            p.clientWrite(ints(4));
            assertThat(read.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(4);
            runner.exit();
            assertThat(runner.awaitExit(WAIT)).isTrue();
        }
    }
}
