package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.InstanceOfAssertFactories.THROWABLE;

import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import io.stcp.testing.TestClient;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A connection is read by one thread, its reader's: a read on another thread while a runner runs
 * the connection throws {@link IllegalStateException} at once, and the reader goes on reading
 * every byte. It waited instead — on the JDK transport behind the reader's blocked read, for the
 * channel's read lock, beyond every read timeout — and took bytes from under the reader. A
 * connection no runner runs yet is read by any thread. Both transports: this suite runs again in
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
