package io.stcp.examples.readme;

import io.stcp.OverflowPolicy;
import io.stcp.QueueSender;
import io.stcp.SenderFactory;
import java.net.InetSocketAddress;
import java.time.Duration;

/** The README's sender factory variants. */
final class SenderFactories {
    private SenderFactories() {}

    static void examples() {
        // snippet:start sender-factories
        SenderFactory large = conn -> QueueSender.create(conn, 10_000);
        SenderFactory small = conn -> QueueSender.create(conn, 100);
        SenderFactory unbounded = conn -> QueueSender.options().unbounded().build(conn); // Go: size 0

        // Per connection: local peers get a bigger queue.
        SenderFactory byPeer = conn -> {
            boolean local = ((InetSocketAddress) conn.remoteAddress()).getAddress().isLoopbackAddress();
            return QueueSender.create(conn, local ? 10_000 : 1_000);
        };

        // Bounded by bytes too; a consumer that falls 4 MiB behind is disconnected.
        SenderFactory guarded = QueueSender.options()
                .capacity(10_000)
                .maxBytes(4 << 20)
                .overflow(OverflowPolicy.CLOSE_CONNECTION)::build;

        // Block the producer up to 200ms when full, then fail.
        SenderFactory patient = QueueSender.options()
                .overflow(OverflowPolicy.BLOCK)
                .blockTimeout(Duration.ofMillis(200))::build;
        // snippet:end
    }
}
