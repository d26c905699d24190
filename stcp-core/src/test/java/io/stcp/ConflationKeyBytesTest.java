package io.stcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stcp.internal.OutboundBudget;
import io.stcp.testing.Echo;
import io.stcp.testing.SocketPair;
import java.io.InputStream;
import java.net.Socket;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * A conflating sender's String keys count against its byte limit and the server's outbound budget,
 * two bytes a char with their messages: a peer that makes the keys (a symbol, a user id) large
 * cannot have a slow connection's queue hold more than the limits with 1-byte values. What the
 * keys counted comes back as their messages are written.
 */
class ConflationKeyBytesTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** 64 KiB as the queue counts it. */
    private static final String KEY = "k".repeat(32 << 10);

    @Test
    void largeKeysWithOneByteValuesAreRefusedAtMaxBytes() throws Exception {
        long maxBytes = 64 << 10;
        try (SocketPair p = SocketPair.open()) {
            QueueSender sender = QueueSender.options().conflating(true).maxBytes(maxBytes).build(p.server);
            sender.holdWrites(); // queued, not written, until resumeWrites()
            assertThatThrownBy(() -> sender.put(KEY, new byte[] {0})).isInstanceOf(QueueFullException.class)
                    .hasMessageContaining("with a key counted as " + (64 << 10) + " exceeds the sender's byte limit");
            String quarter = KEY.substring(0, 8 << 10); // 16 KiB as counted
            AtomicInteger accepted = new AtomicInteger();
            assertThatThrownBy(() -> {
                for (int i = 0; i < 64; i++) {
                    sender.put(i + quarter, new byte[] {(byte) i});
                    accepted.incrementAndGet();
                }
            }).isInstanceOf(QueueFullException.class).hasMessageContaining("maxBytes " + maxBytes);
            assertThat(accepted).hasValue(3);
            sender.put(0 + quarter, new byte[] {10}); // replaced: its key is counted once
            assertThat(sender.stats().pendingBytes()).isEqualTo(3 * (2L * (1 + quarter.length()) + 1))
                    .isLessThanOrEqualTo(maxBytes);

            sender.resumeWrites();
            InputStream in = Channels.newInputStream(p.client);
            assertThat(in.readNBytes(3)).containsExactly(10, 1, 2);
            Awaitility.await().atMost(WAIT).until(() -> sender.stats().pendingBytes() == 0);
            sender.put(KEY.substring(1), new byte[] {3}); // the room is back: 65,534 + 1 bytes fit
            assertThat(in.readNBytes(1)).containsExactly(3);
            sender.close();
        }
    }

    @Test
    void largeKeysWithOneByteValuesAreRefusedAtTheServersOutboundBudget() throws Exception {
        long budget = 256 << 10;
        CompletableFuture<QueueSender> started = new CompletableFuture<>();
        TcpServer server = TcpServer.create(Echo.loopback().outboundBudget(budget).build(),
                        (s, conn) -> conn.readBytes(1), // the peer sends nothing: the reader waits
                        c -> QueueSender.options().unbounded().maxBytes(0).conflating(true).build(c))
                .onConnectionStart(s -> started.complete((QueueSender) s))
                .start();
        try (Socket peer = new Socket()) {
            peer.connect(server.address());
            QueueSender sender = started.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            sender.holdWrites(); // a peer that reads nothing, without waiting for its buffers to fill
            AtomicInteger accepted = new AtomicInteger();
            assertThatThrownBy(() -> {
                for (int i = 0; i < 64; i++) {
                    sender.put(i + KEY, new byte[] {(byte) i});
                    accepted.incrementAndGet();
                }
            }).isInstanceOf(QueueFullException.class).hasMessageContaining("outbound budget");
            long pending = sender.stats().pendingBytes();
            // above a slack permit's slack: charged all its bytes above the free ones
            assertThat(pending).isGreaterThan(budget).isLessThanOrEqualTo(OutboundBudget.FREE_BYTES + budget);
            assertThat(accepted.get()).isEqualTo((int) ((OutboundBudget.FREE_BYTES + budget) / (2L * (1 + KEY.length()) + 1)));

            sender.resumeWrites();
            byte[] written = peer.getInputStream().readNBytes(accepted.get());
            assertThat(written[written.length - 1]).isEqualTo((byte) (accepted.get() - 1));
            Awaitility.await().atMost(WAIT).until(() -> sender.stats().pendingBytes() == 0);
            sender.put(KEY, new byte[] {42}); // the budget has room again
            assertThat(peer.getInputStream().readNBytes(1)).containsExactly(42);
        } finally {
            Echo.stop(server);
        }
    }
}
