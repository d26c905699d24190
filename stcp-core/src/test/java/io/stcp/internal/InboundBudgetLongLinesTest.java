package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.framing.DelimiterReader;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two peers that send long lines slowly, both mid-line when the inbound budget runs short, both
 * complete. A line's growth completes it only once its delimiter is buffered, so the growths of
 * both lines are ones that leave the budget's last fifth free. On the old code both readers then
 * waited for the budget, each for the other, until their frame timeouts, though the budget could
 * hold both lines whole. Now, once every reader holding part of the budget waits for more, one
 * value at a time may grow into half that fifth ({@link InboundBudget}, "The reserve"): the reader that
 * would wait last takes it, its line completes and gives its part back, and the other goes on.
 */
class InboundBudgetLongLinesTest {
    private static final int BUDGET = 1 << 20;
    /** What a peer sends at a time: the server reads it all, or waits for the budget, before the next. */
    private static final int CHUNK = 16 << 10;
    /**
     * The most a peer sends before the rest of its line: more than both can send before their
     * growths meet the budget's last fifth (about 400 KiB each), less than one of them can then
     * send once it may grow into it.
     */
    private static final int FIRST_PART = 480 << 10;
    /** A line, without its {@code \n}: two of them fit in the budget. */
    private static final int LINE = FIRST_PART + 1024;

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    private final List<Peer> peers = new ArrayList<>();
    private RealTcpServer server;
    private InboundBudget budget;

    @AfterEach
    void stop() throws Exception {
        for (Peer p : peers) {
            p.socket.close(); // ends a writer blocked on a server that does not read
        }
        for (Peer p : peers) {
            if (p.writer != null) {
                p.writer.join();
            }
        }
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void twoLongLinesSentSlowlyBothCompleteWhenTheBudgetRunsShortMidLine() throws Exception {
        start((sender, conn) -> {
            byte[] line = conn.readLine(4 << 20);
            if (line == null) {
                throw new EOFException(); // the test's end
            }
            sender.put(Echo.frame(line));
        });
        assertBothLinesComplete();
    }

    @Test
    void twoLongDelimitedFramesSentSlowlyBothCompleteWhenTheBudgetRunsShortMidFrame() throws Exception {
        start(DelimiterReader.builder().lines().maxLength(4 << 20).build((sender, frame) -> sender.put(Echo.frame(frame))));
        assertBothLinesComplete();
    }

    /**
     * A peer sends lines just under the whole budget, each whole at once. On the old code a step
     * past half the budget, a quarter more than what had arrived, could be longer than the budget
     * holds, and a line that fits failed as too long for it (the connection ended).
     */
    @Test
    void linesJustUnderTheWholeBudgetAreReadWhole() throws Exception {
        start(DelimiterReader.builder().maxLength(4 << 20).build((sender, frame) -> sender.put(Echo.frame(frame))));
        Peer a = connect();
        sendAndAssertEchoed(List.of(a), BUDGET - (8 << 10), BUDGET - (100 << 10), BUDGET + ConnectionInput.BUFFER_SIZE - 1);
    }

    /**
     * Two peers each send a line of 200 KiB but its {@code \n}, and the {@code \n}s once both
     * readers wait for them with arrays longer than their lines, and other values hold so much of
     * the budget that a line's copy does not fit beside the arrays: each line is copied out of its
     * array, at the same time, the copy taking its array's place in the budget in one step, and
     * both lines are read. The old code copied them out uncounted; counting a copy by a reservation
     * that waited for room had the two lines wait for each other's until their frame timeouts.
     */
    @Test
    void twoLinesCopiedOutOfTheirArraysAtOnceBothCompleteThoughTheBudgetHasNoRoomForACopyBesideThem() throws Exception {
        start(DelimiterReader.builder().maxLength(4 << 20).build((sender, frame) -> sender.put(Echo.frame(frame))));
        int length = 200 << 10;
        byte[] content = new byte[length];
        Arrays.fill(content, (byte) 'x');
        List<Peer> peers = List.of(connect(), connect());
        for (Peer p : peers) {
            p.out.write(content);
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2))
                    .until(() -> p.conn.input().isAwaitingInput() && p.conn.input().bytesRead() == length);
        }
        long arrays = budget.usedBytes();
        assertThat(arrays + 2L * ConnectionInput.BUFFER_SIZE).as("the arrays, longer than the lines").isGreaterThan(2L * length);
        long copy = length - ConnectionInput.BUFFER_SIZE;
        long others = BUDGET - arrays - copy / 2; // room for half a copy
        assertThat(budget.reserve(others, true, null, 0, () -> true)).isTrue();

        for (Peer p : peers) {
            p.out.write('\n');
        }
        for (Peer p : peers) {
            DataInputStream in = new DataInputStream(p.socket.getInputStream());
            assertThat(in.readInt()).as("a reply, not the end of the connection").isEqualTo(length);
            in.skipNBytes(length);
        }
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.usedBytes() == others);
        budget.release(others, null);
    }

    /**
     * Two peers each send a line of just under half the budget (the two fit in it), whole and at
     * the same moment. The first reader to find every reader holding part of the budget waiting
     * took half the last fifth with a step that fell a few KiB short of its line, and its next step,
     * a quarter more, did not fit: both waited for the budget until their frame timeouts (60 s).
     * Now a step taken while every holder waits is cut to the room there is, the line completes
     * and gives its part back, and the other follows.
     */
    @Test
    void twoLinesOfJustUnderHalfTheBudgetSentAtOnceBothCompleteWellBeforeTheFrameTimeout() throws Exception {
        start((sender, conn) -> {
            byte[] line = conn.readLine(4 << 20);
            if (line == null) {
                throw new EOFException(); // the test's end
            }
            sender.put(Echo.frame(line));
        });
        int length = BUDGET / 2 + ConnectionInput.BUFFER_SIZE - 1024; // the arrays of two such lines fit
        List<Peer> both = List.of(connect(), connect());
        List<CompletableFuture<Integer>> replies = new ArrayList<>();
        for (Peer p : both) {
            replies.add(CompletableFuture.supplyAsync(() -> {
                try {
                    DataInputStream in = new DataInputStream(p.socket.getInputStream());
                    int n = in.readInt();
                    in.skipNBytes(n);
                    return n;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, runnable -> Thread.ofVirtual().start(runnable)));
        }
        byte[] line = new byte[length + 1];
        Arrays.fill(line, (byte) 'x');
        line[length] = '\n';
        for (Peer p : both) {
            p.writer = Thread.ofVirtual().start(() -> {
                try {
                    p.out.write(line);
                } catch (IOException e) {
                    // closed at the test's end: the assertion on the replies says why
                }
            });
        }
        // The old code: no reply until the frame timeouts (60 s).
        for (CompletableFuture<Integer> reply : replies) {
            assertThat(reply.get(10, TimeUnit.SECONDS)).as("a reply, not the end of the connection").isEqualTo(length);
        }
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.usedBytes() == 0);
    }

    /** Each peer sends lines of these lengths (and their {@code \n}), on a thread of its own; each is echoed. */
    private void sendAndAssertEchoed(List<Peer> senders, int... lengths) throws Exception {
        for (Peer p : senders) {
            p.writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int length : lengths) {
                        byte[] line = new byte[length + 1];
                        Arrays.fill(line, (byte) 'x');
                        line[length] = '\n';
                        p.out.write(line);
                    }
                } catch (IOException e) {
                    // closed at the test's end: the assertion on the replies says why
                }
            });
        }
        for (Peer p : senders) {
            DataInputStream in = new DataInputStream(p.socket.getInputStream());
            for (int length : lengths) {
                assertThat(in.readInt()).as("a reply, not the end of the connection").isEqualTo(length);
                in.skipNBytes(length);
            }
        }
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.usedBytes() == 0);
    }

    private void start(ConnectionReader reader) throws IOException {
        // The frame timeout ends the old code's wait: longer than the test waits for the lines.
        server = new RealTcpServer(Echo.loopback().inboundBudget(BUDGET).frameTimeout(Duration.ofSeconds(60)).build(),
                reader, QueueSender.options().capacity(8).maxBytes(8 << 20)::build);
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();
    }

    private void assertBothLinesComplete() throws Exception {
        Peer a = connect();
        Peer b = connect();
        // In turns, a chunk to each peer that has not sent its first part and does not wait for the budget.
        for (int turn = 0; turn < 2 * FIRST_PART / CHUNK && (a.sending() || b.sending()); turn++) {
            for (Peer p : List.of(a, b)) {
                if (p.sending()) {
                    p.sendChunk();
                }
            }
        }
        assertThat(a.sending() || b.sending()).as("the peers still sending").isFalse();
        assertThat(budget.waiters()).as("readers waiting for the budget mid-line").isPositive();

        a.sendRest();
        b.sendRest();
        // The old code: no reply, both wait for the budget until their frame timeouts (60 s).
        a.assertEchoed();
        b.assertEchoed();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> budget.usedBytes() == 0);
    }

    private Peer connect() throws Exception {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        s.setSoTimeout(20_000);
        Peer p = new Peer(s, (RealConnection) started.poll(10, TimeUnit.SECONDS));
        peers.add(p);
        budget = p.conn.input().budget();
        return p;
    }

    /** A client and its connection on the server. */
    private final class Peer {
        final Socket socket;
        final RealConnection conn;
        final OutputStream out;
        int sent;
        boolean waitsForBudget;
        Thread writer;

        Peer(Socket socket, RealConnection conn) throws IOException {
            assertThat(conn).isNotNull();
            this.socket = socket;
            this.conn = conn;
            this.out = socket.getOutputStream();
        }

        boolean sending() {
            return sent < FIRST_PART && !waitsForBudget;
        }

        /**
         * Sends a chunk of the line, and waits until the reader has read it all and waits for more,
         * or waits for the budget (one peer at a time is sent to: a new waiter is this one).
         */
        void sendChunk() throws IOException {
            int waiters = budget.waiters();
            byte[] chunk = new byte[Math.min(CHUNK, FIRST_PART - sent)];
            Arrays.fill(chunk, (byte) 'x');
            out.write(chunk);
            sent += chunk.length;
            int expected = sent;
            // The awaiting flag, a volatile, read first, so that the reader's count is seen as of its wait.
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2))
                    .until(() -> conn.input().isAwaitingInput() && conn.input().bytesRead() == expected
                            || budget.waiters() > waiters);
            waitsForBudget = budget.waiters() > waiters;
        }

        /** Sends the rest of the line and its {@code \n}, on a thread of its own: the server may not read it yet. */
        void sendRest() {
            byte[] rest = new byte[LINE - sent + 1];
            Arrays.fill(rest, (byte) 'x');
            rest[rest.length - 1] = '\n';
            writer = Thread.ofVirtual().start(() -> {
                try {
                    out.write(rest);
                } catch (IOException e) {
                    // closed at the test's end: the assertion on the reply says why
                }
            });
        }

        void assertEchoed() throws IOException {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            assertThat(in.readInt()).isEqualTo(LINE);
            byte[] line = new byte[LINE];
            in.readFully(line);
            byte[] expected = new byte[LINE];
            Arrays.fill(expected, (byte) 'x');
            assertThat(line).isEqualTo(expected);
        }
    }
}
