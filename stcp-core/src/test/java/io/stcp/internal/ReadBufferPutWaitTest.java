package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.Connection;
import io.stcp.QueueSender;
import io.stcp.testing.Echo;
import java.io.DataInputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A reader waiting in a put for room holds of its read buffer no more than the bytes left in it
 * (the next pipelined request's start): it gives the pooled buffer back as before a wait for
 * input. Before, an echo reader whose peer pipelines and never reads kept a large buffer (64 KiB)
 * for the whole wait, which neither budget counted: 2,000 such peers ran a 256 MiB server out of
 * heap on epoll. A wide buffer is kept (see ConnectionInput): the test takes them all, as many
 * streaming peers would, so the reader reads into large ones. On the JDK transport a connection
 * has one small buffer, kept. Every frame still comes back whole once the peer reads.
 */
class ReadBufferPutWaitTest {
    /** The peer's frames, header and body, as in the heap-exhausting run: less than a large buffer. */
    private static final int FRAME = 40_004;
    private static final int FRAMES = 400;

    private final WideBuffersTaken wide = new WideBuffersTaken();
    private final FramingPeers peers = new FramingPeers();
    private final BlockingQueue<Connection> started = new LinkedBlockingQueue<>();
    private RealTcpServer server;

    @AfterEach
    void tearDown() throws Exception {
        wide.close();
        peers.close();
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderWaitingForOutboundRoomHoldsOnlyTheBytesLeftOfItsBuffer() throws Exception {
        server = new RealTcpServer(Echo.loopback().inboundBudget(32 << 20).outboundBudget(1 << 20)
                .writeTimeout(Duration.ZERO).frameTimeout(Duration.ofSeconds(60)).build(), (sender, conn) -> {
                    int n = conn.readInt();
                    sender.put(conn.readBytes(n));
                }, QueueSender.options().capacity(1024).maxBytes(64 << 20)::build); // only the outbound budget binds
        server.onConnectionStart(s -> started.add(s.connection()));
        server.start();

        Socket peer = peers.start(server.address().getPort(), FRAME - 4, FRAMES); // reads nothing until the test does
        RealConnection c = (RealConnection) started.poll(10, TimeUnit.SECONDS);
        assertThat(c).isNotNull();
        OutboundBudget outbound = c.context().outboundBudget();
        ConnectionInput input = c.input();
        int[] seen = Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> waiting(outbound, input), s -> s != null);
        int left = seen[0];
        int held = seen[1];
        if (c.canSuspendReads()) {
            assertThat(held).as("read buffer held while the put waits, %s bytes left (the old code: a pooled"
                    + " buffer, of 64 KiB)", left).isEqualTo(left);
        } else {
            assertThat(held).as("the JDK transport's one buffer").isEqualTo(ConnectionInput.BUFFER_SIZE);
        }

        // The peer reads now: every frame comes back whole, the bytes parked at each wait included.
        peer.setSoTimeout(30_000);
        DataInputStream in = new DataInputStream(peer.getInputStream());
        byte[] body = new byte[FRAME - 4];
        for (int i = 0; i < FRAMES; i++) {
            in.readFully(body);
            assertThat(body).as("frame %s echoed", i).containsOnly((byte) i);
        }
    }

    /**
     * The bytes left in the reader's buffer and the buffer's size, looked at while its put waits
     * for the budget (the budget's lock orders the reader's writes before these looks), or null:
     * it does not wait, or it read meanwhile (a write freed room and it went on).
     */
    private static int @Nullable [] waiting(OutboundBudget outbound, ConnectionInput input) {
        long read = input.bytesRead();
        if (outbound.waiters() != 1) {
            return null;
        }
        int[] seen = {input.buffered(), input.bufferCapacity()};
        return outbound.waiters() == 1 && input.bytesRead() == read ? seen : null;
    }
}
