package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.framing.DelimiterReader;
import io.stcp.testing.Echo;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Peers that trickle long lines ({@code readLine}) or delimited frames ({@link DelimiterReader})
 * cannot make the server hold much more than they send once its inbound budget is under pressure:
 * past half the budget, their arrays grow by a quarter of what arrived, as {@code readBytes}
 * arrays do ({@link InboundBudgetPressureTest}), where doubling held twice what each sent. Each
 * trickler's {@link #SENT} bytes are all in its socket before its reader starts.
 */
class InboundBudgetLinePressureTest {
    /** What each trickler sends, without a delimiter: a power of two, so that a doubling array is full with it. */
    private static final int SENT = 32 << 10;
    private static final int BUDGET = 16 * SENT;
    /** The longest line or frame the readers take: less than the budget, so a trickler does not fail at once. */
    private static final int MAX_LENGTH = 10 * SENT;
    /** The most a trickler may hold past half the budget: a quarter more than it sent. */
    private static final long QUARTER_MORE = SENT + SENT / 4 + (long) ConnectionInput.MIN_GROWING;

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    /** Each connection's reader waits here before its first read. */
    private final Map<Connection, CountDownLatch> gates = new ConcurrentHashMap<>();
    private final List<Socket> peers = new ArrayList<>();
    private RealTcpServer server;
    private InboundBudget budget;

    @AfterEach
    void stop() throws Exception {
        for (Socket s : peers) {
            s.close();
        }
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void pastHalfTheBudgetAPeerTricklingALineHoldsAQuarterMoreThanItSent() throws Exception {
        start((sender, conn) -> sender.put(Echo.frame(conn.readLine(MAX_LENGTH))));
        assertTricklersPastHalfHoldAQuarterMore();
    }

    @Test
    void pastHalfTheBudgetAPeerTricklingADelimitedFrameHoldsAQuarterMoreThanItSent() throws Exception {
        DelimiterReader frames = DelimiterReader.builder().delimiter("\r\n".getBytes(StandardCharsets.US_ASCII))
                .maxLength(MAX_LENGTH).build((sender, frame) -> sender.put(Echo.frame(frame)));
        start(frames);
        assertTricklersPastHalfHoldAQuarterMore();
    }

    private void start(ConnectionReader framing) throws IOException {
        ConnectionReader gated = (sender, conn) -> {
            gates.computeIfAbsent(conn, c -> new CountDownLatch(1)).await();
            framing.read(sender, conn);
        };
        server = new RealTcpServer(Echo.loopback().inboundBudget(BUDGET).frameTimeout(Duration.ofSeconds(60)).build(),
                gated, QueueSender.options().capacity(8).maxBytes(16 << 20)::build);
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();
    }

    private void assertTricklersPastHalfHoldAQuarterMore() throws Exception {
        // Arrays grow fourfold while that leaves the budget at most half spent.
        assertThat(trickle()).as("the first array").isLessThanOrEqualTo(4L * SENT);
        while (budget.usedBytes() <= BUDGET / 2) {
            trickle();
        }
        // Past half, each further trickler holds what it sent and a quarter more, where doubling
        // held twice as much.
        for (int i = 0; i < 2; i++) {
            assertThat(trickle()).as("held for %d bytes sent", SENT).isPositive().isLessThanOrEqualTo(QUARTER_MORE);
        }
    }

    /**
     * A peer sends {@link #SENT} bytes of a line or frame, and its reader starts once they are all
     * in its socket.
     *
     * @return the bytes its array holds in the budget once its reader has read them all
     */
    private long trickle() throws Exception {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        peers.add(s);
        RealConnection conn = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(conn).isNotNull();
        budget = conn.input().budget();
        byte[] bytes = new byte[SENT];
        Arrays.fill(bytes, (byte) 'x');
        OutputStream out = s.getOutputStream();
        out.write(bytes); // the socket buffers hold it all
        Awaitility.await().until(() -> conn.transport().available() == SENT);
        long before = budget.usedBytes();
        gates.computeIfAbsent(conn, c -> new CountDownLatch(1)).countDown();
        // All in the array, and the reader waits for more (after its last growth): the awaiting
        // flag, a volatile, read first, so that the reader's count is seen as of its wait.
        Awaitility.await().until(() -> conn.input().isAwaitingInput() && conn.input().bytesRead() == SENT);
        return budget.usedBytes() - before;
    }
}
