package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.CloseReason;
import io.stcp.Connection;
import io.stcp.ConnectionReader;
import io.stcp.QueueSender;
import io.stcp.testing.Echo;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A large value a reader holds stays charged to the server's inbound budget until the reader gives
 * it up: an echo reader waiting in a put for outbound room (its peer never reads) held a frame of
 * a MiB that neither budget counted, so peers that never read made the server hold as many as it
 * had connections. Now another connection's large value waits for the room the held one takes, and
 * gets it when that one is given up (here, by its connection's end). Both ways a body is echoed:
 * read and put, and relayed (on epoll, read straight into the direct pool).
 */
class InboundBudgetHeldValueTest {
    private static final int INBOUND = 2 << 20;
    private static final int OUTBOUND = 2 << 20;
    /** What the peer that never reads sends, frame after frame: more than the kernel's buffers and the queue hold. */
    private static final int FRAME = 1 << 20;
    private static final int FRAMES = 16;
    /** The other peer's frame: more than the budget has room for beside a held FRAME, less than all of it. */
    private static final int OTHER = 3 << 19;

    private final FramingPeers peers = new FramingPeers();
    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    /** The lengths of the values each reader has echoed. */
    private final BlockingQueue<Integer> echoed = new LinkedBlockingQueue<>();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        peers.close();
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aValueEchoedWithReadBytesStaysChargedWhileItsPutWaits() throws Exception {
        heldValueMakesAnotherWaitUntilGivenUp((sender, conn) -> {
            int n = conn.readInt();
            sender.put(conn.readBytes(n));
            echoed.add(n);
        }, FRAME);
    }

    @Test
    void aValueRelayedStaysChargedWhileItsPutWaits() throws Exception {
        heldValueMakesAnotherWaitUntilGivenUp((sender, conn) -> {
            int n = conn.readInt();
            sender.relay(conn, ByteBuffer.allocate(4).putInt(n).array(), n);
            echoed.add(n);
        }, 4 + FRAME);
    }

    /** {@code valueLength}: the value {@code reader} holds for each frame of {@link #FRAME} bytes (with the header, when it reads them as one). */
    private void heldValueMakesAnotherWaitUntilGivenUp(ConnectionReader reader, int valueLength) throws Exception {
        server = new RealTcpServer(Echo.loopback().inboundBudget(INBOUND).outboundBudget(OUTBOUND)
                .writeTimeout(Duration.ZERO).frameTimeout(Duration.ofSeconds(60)).build(), reader,
                QueueSender.options().capacity(1024).maxBytes(16 << 20)::build); // only the outbound budget binds
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();

        // A peer that never reads: its reader soon waits in a put for outbound room, holding a frame.
        peers.start(server.address().getPort(), FRAME, FRAMES);
        RealConnection holder = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(holder).isNotNull();
        OutboundBudget outbound = holder.context().outboundBudget();
        InboundBudget inbound = holder.input().budget();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> outbound.waiters() == 1);
        assertThat(inbound.usedBytes()).as("the frame whose put waits, charged while its reader holds it"
                + " (the old code: nothing)").isEqualTo(valueLength - ConnectionInput.BUFFER_SIZE);

        // Another peer's frame needs more than is left: it waits for room, its rest in the kernel.
        peers.start(server.address().getPort(), OTHER, 1);
        Connection other = started.poll(10, TimeUnit.SECONDS);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> inbound.waiters() == 1);
        assertThat(echoed).as("frames echoed while the held one takes its room").hasSizeLessThan(FRAMES);
        assertThat(echoed).doesNotContain(OTHER);

        // The holder's connection ends: its reader gives the frame up, and the other frame is read.
        holder.close(CloseReason.CLOSED);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> echoed.contains(OTHER));
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> inbound.usedBytes() == 0);
        assertThat(other.isOpen()).isTrue();
        assertThat(inbound.waiters()).isZero();
    }
}
