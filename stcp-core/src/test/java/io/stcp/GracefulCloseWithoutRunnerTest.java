package io.stcp;

import static io.stcp.testing.RepliesPair.REPLIES;
import static io.stcp.testing.RepliesPair.readReply;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.RepliesPair;
import io.stcp.testing.SocketPair;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A graceful close ({@code closeAfterFlush}), on a thread of its own, of a connection no runner
 * runs ({@link Connection#of}) while the peer has sent bytes nobody read: the closing thread reads
 * and drops them during its linger, as a served connection's reader thread does, so the peer gets
 * every reply and the FIN, no reset, and the close returns once the peer is quiet, or closes.
 * Nobody read them before: the close reset the connection, destroying the replies still on their
 * way (a peer got 2.1 to 2.7 of 4 MiB). Both transports: stcp-epoll runs it again.
 */
class GracefulCloseWithoutRunnerTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int UNREAD = 32 << 10; // the peer's bytes: more than a read buffer, fewer than the socket holds
    // A value whose rest after UNREAD bytes is more than a large read buffer: epoll holds it back in the kernel.
    private static final int LARGE_VALUE = 256 << 10;

    /** No application read is under way: the close takes the input at once. */
    @Test
    void aCloseOnAnotherThreadDeliversEveryReplyAndTheFinThoughThePeersInputIsUnread() throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            p.peerSends(new byte[UNREAD]); // nobody reads it
            closeAndReadEveryReply(p, () -> {});
        }
    }

    /**
     * An application read waits for input as the close begins; the peer's bytes come while the
     * close writes the replies: that read fails (the input is the close's now), and the close takes
     * the input once it has, and reads and drops the rest.
     */
    @Test
    void aCloseOnAnotherThreadTakesTheInputOnceTheApplicationsReadHasEnded() throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            CompletableFuture<Integer> read = SocketPair.readIntOnceWaiting(p.conn());
            closeAndReadEveryReply(p, () -> {
                p.peerSends(new byte[UNREAD]);
                assertThat(read).failsWithin(WAIT).withThrowableOfType(ExecutionException.class)
                        .withCauseInstanceOf(AsynchronousCloseException.class);
            });
        }
    }

    /**
     * An application read waits for input that the peer never sends: nothing is unread, so the close
     * does not wait for that read (it would never end) but closes once the replies are out, which
     * ends the read, as before.
     */
    @Test
    void aCloseOnAnotherThreadEndsAnApplicationReadWaitingForAnIdlePeer() throws Exception {
        closeEndsTheApplicationsRead(0, Connection::readInt);
    }

    /**
     * An application read waits for the rest of an int, half of which came: nothing is unread in the
     * socket, so the close closes once the replies are out and the peer has been quiet for 200 ms
     * (its rest may be on the way: see GracefulCloseMidValueTest), which ends that read. On the JDK
     * transport a read blocked for the rest of a value did not say it waited for input (the epoll
     * transport's did): the close waited for it to the end of its linger, 2 s.
     */
    @Test
    void aCloseOnAnotherThreadEndsAnApplicationReadWaitingForTheRestOfAValue() throws Exception {
        closeEndsTheApplicationsRead(2, Connection::readInt);
    }

    /**
     * An application read of a large value waits for its rest with part of it unread in the socket
     * (on epoll the kernel holds it back until the rest has come): the close has that read take
     * what came — which ends it, the input being the close's — then reads and drops what more the
     * peer sends, so the peer gets every reply and the FIN, and the close returns at once. Before,
     * the close waited for that read to the end of its linger (2 s), then closed with those bytes
     * unread, resetting the connection.
     */
    @Test
    void aCloseOnAnotherThreadEndsAnApplicationReadWaitingForMoreThanHasArrived() throws Exception {
        closeEndsTheApplicationsRead(UNREAD, conn -> conn.readBytes(LARGE_VALUE));
    }

    private interface Read {
        Object read(Connection conn) throws Exception;
    }

    /**
     * The peer sends {@code sentFirst} bytes, then an application read that needs more waits for
     * input: the close delivers every reply and the FIN, returns at once, and ends that read.
     */
    private static void closeEndsTheApplicationsRead(int sentFirst, Read read) throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            p.peerSends(new byte[sentFirst]);
            CompletableFuture<Object> reading = SocketPair.readOnceWaiting(() -> read.read(p.conn()));
            closeAndReadEveryReply(p, () -> {});
            assertThat(reading).failsWithin(WAIT).withThrowableOfType(ExecutionException.class)
                    .withCauseInstanceOf(IOException.class);
        }
    }

    private interface Step {
        void run() throws Exception;
    }

    /**
     * Queues the replies, closes gracefully on a thread of its own, runs {@code whileClosing} once
     * the close has begun (the replies are still being written: the peer has read none), then has the
     * peer read all replies but the last, by which time the last is in the socket, and the close
     * returns; then the peer reads the last reply and the FIN.
     */
    private static void closeAndReadEveryReply(RepliesPair p, Step whileClosing) throws Exception {
        p.queueReplies();
        CompletableFuture<Integer> discarded = new CompletableFuture<>();
        CompletableFuture<Long> closedAt = new CompletableFuture<>();
        Thread.ofPlatform().name("closer").start(() -> {
            discarded.complete(p.sender().closeAfterFlush(WAIT));
            closedAt.complete(System.nanoTime());
        });
        Awaitility.await().atMost(WAIT).until(p.sender()::isClosed); // the close has begun
        whileClosing.run();

        DataInputStream in = new DataInputStream(Channels.newInputStream(p.client()));
        for (int i = 0; i < REPLIES - 1; i++) {
            readReply(in, i);
        }
        Awaitility.await().atMost(WAIT).untilAsserted(() -> { // if not, whether the last is queued still, or discarded, and why
            QueueSender.Stats stats = p.sender().stats();
            assertThat(stats.written()).as("%s, the connection's end %s", stats, p.conn().closeReason()).isEqualTo(REPLIES);
        });
        long writtenAt = System.nanoTime(); // the FIN follows, then the linger
        long closed = closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        // Once the peer has been quiet for 200 ms, not after the linger's 2 s. The margin is for a loaded machine.
        assertThat(Duration.ofNanos(closed - writtenAt)).isLessThan(Duration.ofMillis(1200));
        assertThat(discarded.get()).isZero();
        assertThat(p.conn().closeReason()).isEqualTo(CloseReason.CLOSED);

        readReply(in, REPLIES - 1); // most of it was still to send as the connection closed: a reset destroyed it
        assertThat(in.read()).as("the FIN after the replies").isEqualTo(-1);
    }
}
