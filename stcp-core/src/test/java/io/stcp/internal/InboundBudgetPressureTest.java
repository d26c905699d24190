package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Peers that announce large frames and trickle their bytes cannot make the server hold much more
 * than they send once its inbound budget is under pressure: past half the budget, arrays grow by
 * a quarter of what arrived, not fourfold. On the JDK transport each trickler's {@link #SENT}
 * bytes are all in its socket before its reader starts, so its array is sized once, from all of
 * them: exactly fourfold on the old code. On epoll a rest of more than 64 KiB waits in the kernel
 * for a MiB of it or a full receive window, so a trickler sends more than a MiB and its array is
 * sized from what had come by then: what it holds is bounded the same way, but how much the old
 * code held depends on that moment.
 */
class InboundBudgetPressureTest {
    /** Whether a large rest waits in the kernel: epoll, with its own socket calls (the low-water mark). */
    private static final boolean EPOLL = "epoll".equals(System.getProperty("io.stcp.transport"))
            && !"false".equals(System.getProperty("io.stcp.epoll.socketCalls"));
    /** What each trickler sends. */
    private static final int SENT = EPOLL ? (1 << 20) + (64 << 10) : 32 << 10;
    private static final int BUDGET = 16 * SENT;
    /** What each trickler announces: less than the budget, so it does not fail at once. */
    private static final int ANNOUNCED = 10 * SENT;
    /** The most a trickler may hold past half the budget: a quarter more than it sent. */
    private static final long QUARTER_MORE = SENT + SENT / 4 + (long) ConnectionInput.MIN_GROWING;

    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    /** Each connection's reader waits here before its first read. */
    private final Map<Connection, CountDownLatch> gates = new ConcurrentHashMap<>();
    private final List<Socket> peers = new ArrayList<>();
    private final List<Thread> writers = new ArrayList<>();
    private final ConnectionReader echo = (sender, conn) -> {
        gates.computeIfAbsent(conn, c -> new CountDownLatch(1)).await();
        int n = conn.readInt();
        sender.put(Echo.frame(conn.readBytes(n)));
    };
    private final RealTcpServer server = new RealTcpServer(Echo.loopback().inboundBudget(BUDGET)
            .frameTimeout(Duration.ofSeconds(60)).build(), echo,
            QueueSender.options().capacity(8).maxBytes(16 << 20)::build);
    private InboundBudget budget;

    InboundBudgetPressureTest() {
        server.onConnectionStart(s -> started.add(s.connection()));
    }

    @AfterEach
    void stop() throws Exception {
        for (Socket s : peers) {
            s.close();
        }
        for (Thread t : writers) {
            t.join();
        }
        Echo.stop(server);
    }

    @Test
    void pastHalfTheBudgetATricklingPeerHoldsAQuarterMoreThanItSent() throws Exception {
        server.start();
        // Arrays grow fourfold while that leaves the budget at most half spent.
        assertThat(trickle()).as("the first array").isLessThanOrEqualTo(4L * SENT);
        while (budget.usedBytes() <= BUDGET / 2) {
            trickle();
        }
        // Past half, each further trickler holds what it sent and a quarter more, where the old
        // code's fourfold held four times as much on the JDK transport (or waited for room).
        for (int i = 0; i < 2; i++) {
            assertThat(trickle()).as("held for %d bytes sent", SENT).isPositive().isLessThanOrEqualTo(QUARTER_MORE);
        }
    }

    @Test
    void aFrameArrivingWhilePeersTrickleAQuarterOfTheBudgetFindsRoom() throws Exception {
        server.start();
        // Four tricklers send a quarter of the budget. They hold at most half of it fourfold and a
        // quarter more than they sent past that: 10.5 of 16 parts. A frame of 2 parts grows within
        // what is left of the budget before its last fifth, then takes the whole frame. The old
        // code held 16 parts for them on the JDK transport: the frame waited.
        for (int i = 0; i < 4; i++) {
            trickle();
        }
        int length = 2 * SENT;
        try (Socket client = new Socket("127.0.0.1", server.address().getPort())) {
            client.setSoTimeout(20_000); // the old code: no reply, the frame waits for its timeout (60 s)
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    DataOutputStream out = new DataOutputStream(client.getOutputStream());
                    out.writeInt(length);
                    out.write(new byte[length]);
                } catch (IOException e) {
                    // the test failed and closed the socket: its assertion says why
                }
            });
            open(started.poll(10, TimeUnit.SECONDS));

            DataInputStream in = new DataInputStream(client.getInputStream());
            assertThat(in.readInt()).isEqualTo(length);
            in.readFully(new byte[length]);
            writer.join();
        }
    }

    /**
     * A peer announces {@link #ANNOUNCED} bytes and sends {@link #SENT} of them, and its reader
     * starts once they are all in its socket (on epoll: once they are sent; its reader waits for a
     * MiB of them in the kernel).
     *
     * @return the bytes its array then holds in the budget
     */
    private long trickle() throws Exception {
        Socket s = new Socket("127.0.0.1", server.address().getPort());
        peers.add(s);
        RealConnection conn = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(conn).isNotNull();
        budget = conn.input().budget();
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeInt(ANNOUNCED);
                out.write(new byte[SENT]);
            } catch (IOException e) {
                // closed at the test's end
            }
        });
        writers.add(writer);
        if (!EPOLL) {
            writer.join();
            Awaitility.await().until(() -> conn.transport().available() == 4 + SENT);
        }
        long before = budget.usedBytes();
        open(conn);
        if (EPOLL) {
            assertThat(writer.join(Duration.ofSeconds(10))).as("all sent").isTrue(); // the reader makes room for it
        }
        // Its array grows in steps as it reads what has come: measured once its hold has settled
        // (unchanged for 200 ms, all sent), so that no step of it falls in the next trickler's measure.
        AtomicLong seen = new AtomicLong(-1);
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).during(Duration.ofMillis(200))
                .until(() -> {
                    long used = budget.usedBytes();
                    return seen.getAndSet(used) == used && used > before;
                });
        return budget.usedBytes() - before;
    }

    private void open(Connection conn) {
        assertThat(conn).isNotNull();
        gates.computeIfAbsent(conn, c -> new CountDownLatch(1)).countDown();
    }
}
