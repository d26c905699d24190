package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.Sender;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader that owes its drain ({@code batchReplies}, on the epoll transport) holds its own
 * peer's replies queued, and nobody else writes them: it must pay before it waits for room in the
 * inbound budget, as before a wait for input. Here the room is a value another reader holds while
 * its put waits for room in the owing reader's full queue: unpaid, each waited for the other until
 * the put's block timeout. On the JDK's transport nothing is owed, and a send thread frees them.
 */
class InboundBudgetOwingReaderTest {
    private static final int BUDGET = 1 << 20;
    /** The holder's value: all but a read buffer's worth of the budget, charged while its put waits. */
    private static final int HELD = BUDGET;
    /**
     * The owing reader's value: more than a read buffer, so it needs room, and its rest less than
     * a large buffer, so it waits for none of it in the transport (which would pay the drain).
     */
    private static final int VALUE = 20_000;
    private static final byte[] PONG = "pong".getBytes();

    private final CompletableFuture<Sender> owing = new CompletableFuture<>();
    private final CountDownLatch held = new CountDownLatch(1);
    private final CompletableFuture<Optional<Throwable>> put = new CompletableFuture<>();
    private final CompletableFuture<Integer> read = new CompletableFuture<>();
    private final CompletableFuture<InboundBudget> inbound = new CompletableFuture<>();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderOwingItsDrainPaysItBeforeWaitingForTheInboundBudget() throws Exception {
        server = new RealTcpServer(Echo.loopback().inboundBudget(BUDGET).frameTimeout(Duration.ofSeconds(60))
                .writeTimeout(Duration.ofSeconds(30)).build(),
                (sender, conn) -> {
                    inbound.complete(((RealConnection) conn).input().budget());
                    if (conn.readUnsignedByte() == 'H') { // the holder: a value in hand, then a put into the full queue
                        conn.readBytes(conn.readInt());
                        held.countDown();
                        try {
                            owing.get().put(new byte[1]);
                            put.complete(Optional.empty());
                        } catch (Throwable t) {
                            put.complete(Optional.of(t));
                        }
                        return;
                    }
                    sender.put(PONG); // owed, on epoll: queued for this reader to write
                    sender.put(PONG); // the queue is full
                    owing.complete(sender);
                    held.await(30, TimeUnit.SECONDS);
                    read.complete(conn.readBytes(conn.readInt()).length); // waits for room the holder's value takes
                },
                QueueSender.options().capacity(2).batchReplies(true)
                        .overflow(OverflowPolicy.BLOCK).blockTimeout(Duration.ofSeconds(10))::build);
        server.start();
        try (Socket owingPeer = new Socket("127.0.0.1", server.address().getPort());
             Socket holderPeer = new Socket("127.0.0.1", server.address().getPort())) {
            // All of the owing reader's request at once: its reads after the puts wait for nothing.
            owingPeer.getOutputStream().write(ByteBuffer.allocate(5 + VALUE).put((byte) 'P').putInt(VALUE).array());
            owing.get(30, TimeUnit.SECONDS);
            DataOutputStream holder = new DataOutputStream(holderPeer.getOutputStream());
            holder.write('H');
            holder.writeInt(HELD);
            holder.write(new byte[HELD]);
            holder.flush();

            assertThat(put.get(30, TimeUnit.SECONDS)).as("the holder's put into the owing reader's queue").isEmpty();
            assertThat(read.get(30, TimeUnit.SECONDS)).isEqualTo(VALUE);
            new DataInputStream(owingPeer.getInputStream()).readFully(new byte[2 * PONG.length]);
            InboundBudget budget = inbound.get(30, TimeUnit.SECONDS);
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.usedBytes() == 0);
        }
    }
}
