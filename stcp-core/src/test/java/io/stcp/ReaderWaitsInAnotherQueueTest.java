package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A connection's reader that waits for room in <i>another</i> connection's queue (a put under
 * BLOCK to a full recipient) writes the replies it owes its own peer first
 * ({@code batchReplies}, on the epoll transport: nobody else writes them), as before any wait of
 * its own: its peer does not wait for them behind the other queue's room, and two readers that
 * put into each other's full queues do not each wait for the other until the block timeout. On
 * the JDK's transport nothing is owed, and a send thread writes the replies.
 */
class ReaderWaitsInAnotherQueueTest {
    private static final Duration BLOCK = Duration.ofSeconds(30);
    /** Well within {@link #BLOCK}: what a reader that waited out the block timeout would miss. */
    private static final long WITHIN_SECONDS = 10;

    private final Map<Byte, Sender> senders = new ConcurrentHashMap<>();
    private TcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            Echo.stop(server);
        }
    }

    /** Queues of one message, whose full queue a put waits for under BLOCK; the reader owes its replies' drain. */
    private TcpServer start(ConnectionReader reader) throws Exception {
        server = TcpServer.create(Echo.loopback().build(), reader,
                QueueSender.options().capacity(1).batchReplies(true).overflow(OverflowPolicy.BLOCK).blockTimeout(BLOCK)::build);
        return server.start();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static String read(Socket s, int length) throws Exception {
        byte[] b = new byte[length];
        new DataInputStream(s.getInputStream()).readFully(b);
        return new String(b, StandardCharsets.US_ASCII);
    }

    private Socket connect(char role) throws Exception {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WITHIN_SECONDS));
        s.getOutputStream().write(role);
        return s;
    }

    @Test
    void aReaderWaitingForRoomInAnotherQueueWritesItsOwnRepliesFirst() throws Exception {
        CompletableFuture<Optional<Throwable>> relayed = new CompletableFuture<>();
        start((sender, conn) -> {
            byte role = conn.readBytes(1)[0];
            if (role == 'B') {
                ((QueueSender) sender).holdWrites(); // B's queue stays full until the test resumes its writes
                sender.put(bytes("reply-B"));
                senders.put(role, sender);
                return;
            }
            sender.put(bytes("reply-A")); // owed: queued for this reader to write
            try {
                senders.get((byte) 'B').put(bytes("relayed")); // waits for room in B's queue
                relayed.complete(Optional.empty());
            } catch (Throwable t) {
                relayed.complete(Optional.of(t));
            }
        });
        try (Socket b = connect('B')) {
            await().atMost(Duration.ofSeconds(WITHIN_SECONDS)).until(() -> senders.containsKey((byte) 'B'));
            try (Socket a = connect('A')) {
                assertThat(read(a, 7)).as("A's reply, while A's reader waits for room in B's queue").isEqualTo("reply-A");
                assertThat(relayed).as("A's put into B's full queue").isNotDone();
            } finally {
                ((QueueSender) senders.get((byte) 'B')).resumeWrites();
            }
            assertThat(read(b, 14)).isEqualTo("reply-Brelayed");
            assertThat(relayed.get(WITHIN_SECONDS, TimeUnit.SECONDS)).as("the relayed put's failure").isEmpty();
        }
    }

    @Test
    void twoReadersPuttingIntoEachOthersFullQueuesDoNotWaitForEachOther() throws Exception {
        CyclicBarrier bothQueued = new CyclicBarrier(2);
        Map<Byte, CompletableFuture<Optional<Throwable>>> relayed = Map.of(
                (byte) 'A', new CompletableFuture<>(), (byte) 'B', new CompletableFuture<>());
        start((sender, conn) -> {
            byte role = conn.readBytes(1)[0];
            byte other = role == 'A' ? (byte) 'B' : (byte) 'A';
            sender.put(bytes("reply-" + (char) role)); // owed: this reader's queue is full
            senders.put(role, sender);
            try {
                bothQueued.await(60, TimeUnit.SECONDS);
                senders.get(other).put(bytes("from-" + (char) role)); // waits for room in the other's queue
                relayed.get(role).complete(Optional.empty());
            } catch (Throwable t) {
                relayed.get(role).complete(Optional.of(t));
            }
        });
        try (Socket a = connect('A'); Socket b = connect('B')) {
            assertThat(relayed.get((byte) 'A').get(WITHIN_SECONDS, TimeUnit.SECONDS)).as("A's put into B's queue").isEmpty();
            assertThat(relayed.get((byte) 'B').get(WITHIN_SECONDS, TimeUnit.SECONDS)).as("B's put into A's queue").isEmpty();
            assertThat(read(a, 13)).isEqualTo("reply-Afrom-B");
            assertThat(read(b, 13)).isEqualTo("reply-Bfrom-A");
        }
    }
}
