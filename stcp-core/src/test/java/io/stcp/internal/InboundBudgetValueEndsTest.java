package io.stcp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.stcp.ConnectionReader;
import io.stcp.OverflowPolicy;
import io.stcp.QueueFullException;
import io.stcp.QueueSender;
import io.stcp.SenderFactory;
import io.stcp.framing.LengthFieldReader;
import io.stcp.testing.Echo;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A large value in its reader's hands is given back to the inbound budget however the reader's
 * part ends: its call throws, a framing reader's handler throws, a relay's put fails, or its put
 * waits for a peer that never reads when the peer goes away or the server stops.
 */
class InboundBudgetValueEndsTest {
    private static final int FRAME = 1 << 20;
    private static final long CHARGED = FRAME - ConnectionInput.BUFFER_SIZE;

    private final CompletableFuture<InboundBudget> inbound = new CompletableFuture<>();
    private final CompletableFuture<QueueFullException> relayFailed = new CompletableFuture<>();
    private RealTcpServer server;
    private Socket peer;

    @AfterEach
    void tearDown() throws Exception {
        if (peer != null) {
            peer.close();
        }
        if (server != null) {
            Echo.stop(server);
        }
    }

    @Test
    void aReaderCallThatThrows() throws Exception {
        start((sender, conn) -> {
            budgetOf(conn);
            conn.readBytes(conn.readInt());
            throw new IllegalStateException("the reader fails");
        }, SenderFactory.queue(16));
        sendFrame();
        assertGivenBack();
    }

    @Test
    void aFramingReadersHandlerThatThrows() throws Exception {
        LengthFieldReader reader = LengthFieldReader.builder().maxFrameLength(2 * FRAME).build((sender, frame) -> {
            throw new IllegalStateException("the handler fails");
        });
        start((sender, conn) -> {
            budgetOf(conn);
            reader.read(sender, conn);
        }, SenderFactory.queue(16));
        sendFrame();
        assertGivenBack();
    }

    @Test
    void aRelaysPutThatFails() throws Exception {
        start((sender, conn) -> {
            budgetOf(conn);
            int n = conn.readInt();
            try {
                sender.relay(conn, ByteBuffer.allocate(4).putInt(n).array(), n); // the queue has no room for it
            } catch (QueueFullException e) {
                relayFailed.complete(e);
                throw e;
            }
        }, QueueSender.options().capacity(1).maxBytes(1024).overflow(OverflowPolicy.FAIL)::build);
        sendFrame();
        assertThat(relayFailed.get(30, TimeUnit.SECONDS)).hasMessageContaining("exceeds the sender's byte limit");
        assertGivenBack();
    }

    @Test
    void aPutWaitingForAPeerThatGoesAway() throws Exception {
        startHolding();
        peer.setSoLinger(true, 0); // a reset: the server's writes fail
        peer.close();
        assertGivenBack();
    }

    @Test
    void aPutWaitingWhenTheServerStops() throws Exception {
        startHolding();
        Echo.stop(server);
        server = null;
        assertGivenBack();
    }

    /**
     * A reader that echoes each frame many times to a peer that never reads: a put soon waits
     * (the kernel's buffers hold a few), holding the frame.
     */
    private void startHolding() throws Exception {
        start((sender, conn) -> {
            budgetOf(conn);
            byte[] value = conn.readBytes(conn.readInt());
            for (int i = 0; i < 64; i++) {
                sender.put(value);
            }
        }, QueueSender.options().capacity(1).overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofSeconds(60))::build);
        peer.setReceiveBufferSize(4096);
        sendFrame();
        InboundBudget budget = inbound.get(30, TimeUnit.SECONDS);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.usedBytes() == CHARGED);
    }

    private void start(ConnectionReader reader, SenderFactory factory) throws IOException {
        server = new RealTcpServer(Echo.loopback().inboundBudget(8 << 20).writeTimeout(Duration.ofSeconds(60))
                .frameTimeout(Duration.ofSeconds(60)).build(), reader, factory);
        server.start();
        peer = new Socket();
    }

    private void budgetOf(io.stcp.Connection conn) {
        inbound.complete(((RealConnection) conn).input().budget());
    }

    private void sendFrame() throws IOException {
        peer.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()));
        DataOutputStream out = new DataOutputStream(peer.getOutputStream());
        out.writeInt(FRAME);
        out.write(new byte[FRAME]);
        out.flush();
    }

    private void assertGivenBack() throws Exception {
        InboundBudget budget = inbound.get(30, TimeUnit.SECONDS);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> budget.usedBytes() == 0);
        assertThat(budget.waiters()).isZero();
    }
}
