package io.stcp;

import static io.stcp.testing.RepliesPair.REPLIES;
import static io.stcp.testing.RepliesPair.readReply;
import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.testing.RepliesPair;
import io.stcp.testing.SocketPair;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A graceful close ({@code closeAfterFlush}) on a thread other than the reader's while the reader
 * waits for the rest of a value, half of which came: the peer is in the middle of sending it. The
 * close waits until the peer has been quiet for a moment (200 ms) rather than close at once; the
 * rest, coming meanwhile, ends the reader's read, the peer's bytes are read and dropped, and the
 * peer gets every reply and the FIN, no reset. Before, the close took that reader, nothing unread
 * in the socket, for one waiting on an idle peer and closed as soon as its FIN was queued: the
 * rest then drew a reset, which destroyed the reply still on its way. A runner's reader, and an
 * application's read with no runner ({@link Connection#of}); both transports (stcp-epoll runs it
 * again).
 */
class GracefulCloseMidValueTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int LARGE_VALUE = 256 << 10;

    @Test
    void aRunnersReaderWaitingForTheRestOfAnInt() throws Exception {
        runnerReadsWhileTheCloseLingers(new byte[2], new byte[2], Connection::readInt);
    }

    @Test
    void aRunnersReaderWaitingForTheRestOfALargeValue() throws Exception {
        runnerReadsWhileTheCloseLingers(header(LARGE_VALUE / 2), new byte[LARGE_VALUE / 2], conn -> conn.readBytes(conn.readInt()));
    }

    @Test
    void anApplicationsReadWaitingForTheRestOfAnInt() throws Exception {
        applicationReadsWhileTheCloseLingers(new byte[2], new byte[2], Connection::readInt);
    }

    /** One read of the whole value, which has consumed half of it as it waits: nothing of it is buffered then. */
    @Test
    void anApplicationsReadWaitingForTheRestOfALargeValue() throws Exception {
        applicationReadsWhileTheCloseLingers(new byte[LARGE_VALUE / 2], new byte[LARGE_VALUE / 2], conn -> conn.readBytes(LARGE_VALUE));
    }

    /**
     * Two reads make the value: one of its length, which came whole, then one of its body, none of
     * which has come as the close begins: nothing is buffered, and the body's read has consumed
     * nothing. Before, each read counted as a value of its own, so the close took the second for
     * one waiting for the next value and closed at once; the body then drew a reset.
     */
    @Test
    void anApplicationsReadOfABodyAfterAReadOfItsLength() throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            p.peerSends(ByteBuffer.allocate(4).putInt(16).array());
            int length = p.conn().readInt(); // returns once the length came: the next read's wait is for the body
            applicationReadsWhileTheCloseLingers(p, new byte[length], conn -> conn.readBytes(length));
        }
    }

    /** A length of {@link #LARGE_VALUE} and the first {@code bytes} of the value. */
    private static byte[] header(int bytes) {
        return ByteBuffer.allocate(4 + bytes).putInt(LARGE_VALUE).array();
    }

    private interface Read {
        Object read(Connection conn) throws Exception;
    }

    private static void runnerReadsWhileTheCloseLingers(byte[] first, byte[] rest, Read read) throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            AtomicReference<Thread> reader = new AtomicReference<>();
            ConnectionRunner runner = ConnectionRunner.create((s, conn) -> {
                reader.set(Thread.currentThread());
                read.read(conn);
            }, p.sender());
            p.peerSends(first); // before the runner starts: the reader's first wait is for the rest
            runner.start();
            Awaitility.await().atMost(WAIT).until(() -> reader.get() != null && SocketPair.waits(reader.get()));
            closeAndReadEveryReply(p, rest);
            assertThat(runner.awaitExit(WAIT)).isTrue();
        }
    }

    private static void applicationReadsWhileTheCloseLingers(byte[] first, byte[] rest, Read read) throws Exception {
        try (RepliesPair p = RepliesPair.open()) {
            p.peerSends(first);
            applicationReadsWhileTheCloseLingers(p, rest, read);
        }
    }

    private static void applicationReadsWhileTheCloseLingers(RepliesPair p, byte[] rest, Read read) throws Exception {
        CompletableFuture<Object> reading = SocketPair.readOnceWaiting(() -> read.read(p.conn()));
        closeAndReadEveryReply(p, rest);
        assertThat(reading).failsWithin(WAIT).withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(IOException.class); // the input was the close's
    }

    /**
     * Queues the replies and closes on a thread of its own; the peer reads all replies but the
     * last, by which time the last is written and the FIN queued, and the close lingers; the peer
     * sends {@code rest} 10 ms after the close lingered (it has looked then), then reads the last reply and the FIN.
     */
    private static void closeAndReadEveryReply(RepliesPair p, byte[] rest) throws Exception {
        p.queueReplies();
        CompletableFuture<Integer> discarded = new CompletableFuture<>();
        CompletableFuture<Long> closedAt = new CompletableFuture<>();
        Thread closer = Thread.ofPlatform().name("closer").start(() -> {
            discarded.complete(p.sender().closeAfterFlush(WAIT));
            closedAt.complete(System.nanoTime());
        });

        DataInputStream in = new DataInputStream(Channels.newInputStream(p.client()));
        for (int i = 0; i < REPLIES - 1; i++) {
            readReply(in, i);
        }
        // The close has queued its FIN and lingers, waiting (or, before, closed already).
        Awaitility.await().atMost(WAIT).pollInterval(Duration.ofMillis(2)).until(() -> closedAt.isDone()
                || closer.getState() == Thread.State.TIMED_WAITING
                        && Arrays.stream(closer.getStackTrace()).anyMatch(f -> f.getMethodName().equals("linger")));
        long lingered = System.nanoTime();
        Thread.sleep(10); // pacing the peer, not waiting for the server: the rest comes after the close's look, well within its 200 ms of quiet
        p.peerSends(rest);

        readReply(in, REPLIES - 1); // most of it still to send as the rest came: a reset destroyed it (SocketException)
        assertThat(in.read()).as("the FIN after the replies").isEqualTo(-1);
        long closed = closedAt.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        // Once the peer has been quiet for 200 ms after the rest, not at the linger's end, 2 s
        // after it began. The margin is for a loaded machine.
        assertThat(Duration.ofNanos(closed - lingered)).isLessThan(Duration.ofMillis(1500));
        assertThat(discarded.get()).isZero();
        assertThat(p.conn().closeReason()).isEqualTo(CloseReason.CLOSED);
    }
}
